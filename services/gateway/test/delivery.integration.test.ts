/**
 * The delivery path end to end with real processes: send -> accepted -> deliver -> ack ->
 * delivered, offline replay in order, deletion after ack, receipts for offline senders.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { newMessageId, type DeliverFrame, type DeliveredFrame } from '@gossip/protocol';
import { eventually, Stack, type GatewayService } from './support/stack.js';
import { WsClient } from './support/wsclient.js';

const opaque = (): string => randomBytes(48).toString('base64');

describe('delivery: happy path and offline replay', () => {
  const stack = new Stack('deliv');
  let gw: GatewayService;

  before(async () => {
    await stack.startEngine({ ENGINE_REDELIVERY_SECONDS: '30' });
    gw = await stack.startGateway();
    await stack.createUsers('alice', 'bob', 'carol');
    await stack.makeContacts('alice', 'bob');
  });
  after(() => stack.close());

  it('sends, accepts only after storing, delivers, deletes on ack and sends a receipt', async () => {
    const alice = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    const bob = await WsClient.connect(gw.wsUrl, await stack.token('bob'));
    const hello = await bob.waitFor((f) => f.type === 'hello');
    assert.equal(hello.type === 'hello' && hello.username, 'bob');

    const id = newMessageId();
    const body = opaque();
    alice.send({ type: 'send', id, to: 'bob', kind: 'message', body });
    await alice.waitFor((f) => f.type === 'accepted' && f.id === id);
    // Accepted means stored.
    const stored = await stack.db.collection('messages').findOne({ _id: id as never });
    assert.ok(stored, 'an accepted message is in MongoDB');
    assert.equal(stored.from, 'alice');
    assert.equal(stored.to, 'bob');

    const d = await bob.waitFor<DeliverFrame>((f) => f.type === 'deliver' && f.id === id);
    assert.equal(d.from, 'alice');
    assert.equal(d.body, body);
    assert.equal(d.kind, 'message');

    bob.send({ type: 'ack', ids: [id] });
    const r = await alice.waitFor<DeliveredFrame>((f) => f.type === 'delivered' && f.id === id);
    assert.equal(r.to, 'bob');
    await eventually(
      async () =>
        (await stack.db.collection('messages').countDocuments({ _id: id as never })) === 0,
      'the acked message to be deleted',
    );

    // And back.
    const id2 = newMessageId();
    bob.send({ type: 'send', id: id2, to: 'alice', kind: 'message', body: opaque() });
    await bob.waitFor((f) => f.type === 'accepted' && f.id === id2);
    await alice.waitFor((f) => f.type === 'deliver' && f.id === id2);
    await Promise.all([alice.close(), bob.close()]);
  });

  it('a resend with the same id is stored once and accepted again', async () => {
    const alice = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    const id = newMessageId();
    const frame = { type: 'send', id, to: 'bob', kind: 'message', body: opaque() };
    alice.send(frame);
    alice.send(frame);
    alice.send(frame);
    await eventually(
      () => alice.frames.filter((f) => f.type === 'accepted' && f.id === id).length === 3,
      'three accepted frames',
    );
    assert.equal(await stack.db.collection('messages').countDocuments({ _id: id as never }), 1);
    await alice.close();
  });

  it('an offline recipient gets its messages in order on connect; they are deleted after its ack; the offline sender gets receipts later', async () => {
    const alice = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    for (let i = 0; i < 25; i++) alice.sendMessage('carol', opaque());
    // carol is not a contact: every one refused, nothing stored.
    await eventually(
      () =>
        alice.frames.filter((f) => f.type === 'error' && f.code === 'not_contact').length === 25,
      'not_contact errors',
    );
    assert.equal(await stack.db.collection('messages').countDocuments({ to: 'carol' }), 0);

    // Let one finish before the next? No: pipeline them, the order must hold anyway.
    const toBob = Array.from({ length: 30 }, () => alice.sendMessage('bob', opaque()));
    await eventually(
      () => toBob.every((id) => alice.frames.some((f) => f.type === 'accepted' && f.id === id)),
      'all 30 accepted',
    );
    assert.equal(
      await stack.db.collection('messages').countDocuments({ _id: { $in: toBob as never[] } }),
      30,
    );
    await alice.close();

    const bob = await WsClient.connect(gw.wsUrl, await stack.token('bob'));
    await eventually(
      () => toBob.every((id) => bob.frames.some((f) => f.type === 'deliver' && f.id === id)),
      'all 30 replayed',
    );
    const order = bob.frames
      .filter((f): f is DeliverFrame => f.type === 'deliver')
      .map((f) => f.id)
      .filter((id, i, all) => toBob.includes(id) && all.indexOf(id) === i);
    assert.deepEqual(order, toBob, 'replayed in the order sent');
    bob.send({ type: 'ack', ids: toBob });
    await eventually(
      async () =>
        (await stack.db
          .collection('messages')
          .countDocuments({ _id: { $in: toBob as never[] } })) === 0,
      'bob’s messages deleted after the ack',
    );
    await bob.close();

    // alice was offline when bob acked: the receipts wait for her.
    const alice2 = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    await eventually(
      () => toBob.every((id) => alice2.frames.some((f) => f.type === 'delivered' && f.id === id)),
      'all 30 receipts on reconnect',
    );
    await alice2.close();
  });
});
