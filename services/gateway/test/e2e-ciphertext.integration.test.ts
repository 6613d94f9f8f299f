/**
 * Two users register through the real api, become contacts, exchange a signed wrapped key
 * and chat both ways through real gateway and engine processes. MongoDB documents,
 * RabbitMQ payloads (a tap queue bound to the delivery exchange), Redis values and every
 * service log are then searched for the plaintext: it is nowhere.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import {
  decryptMessageText,
  encryptMessage,
  exportPublicKeys,
  generateConversationKey,
  generateIdentityKeys,
  importSigningPublicKey,
  importWrappingPublicKey,
  openKeyEnvelope,
  sealKeyEnvelope,
  type ConversationKey,
  type IdentityKeys,
} from '@gossip/crypto';
import {
  API_PATHS,
  apiPath,
  deliveryExchange,
  newMessageId,
  type ContactFrame,
  type DeliverFrame,
  type KeysResponse,
  type Session,
} from '@gossip/protocol';
import { eventually, Stack, type GatewayService, type Service } from './support/stack.js';
import { WsClient } from './support/wsclient.js';

const MARKER = `PLAINTEXT-MARKER-${randomBytes(6).toString('hex')}`;

describe('end-to-end encryption across the delivery path', () => {
  const stack = new Stack('e2e');
  let api: Service;
  let gw: GatewayService;
  let tap: amqp.ChannelModel;
  const tapped: string[] = [];

  before(async () => {
    [api] = await Promise.all([stack.startApi(), stack.startEngine()]);
    gw = await stack.startGateway();
    tap = await amqp.connect(stack.env.amqpUrl);
    const ch = await tap.createChannel();
    const ex = deliveryExchange(stack.amqpPrefix);
    await ch.assertExchange(ex, 'topic', { durable: true });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, ex, '#');
    await ch.consume(queue, (m) => m && tapped.push(m.content.toString('utf8')), { noAck: true });
  });
  after(async () => {
    await tap?.close();
    await stack.close();
  });

  async function rest<T>(method: string, path: string, token?: string, body?: unknown) {
    const res = await fetch(api.url + path, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async function register(username: string, keys: IdentityKeys): Promise<Session> {
    const pub = await exportPublicKeys(keys);
    return rest<Session>('POST', API_PATHS.register, undefined, {
      username,
      password: `pw-${randomBytes(8).toString('hex')}`,
      keys: pub,
    });
  }

  async function snapshot(): Promise<string> {
    const parts: string[] = [];
    for (const { name } of await stack.db.listCollections().toArray()) {
      parts.push(JSON.stringify(await stack.db.collection(name).find({}).toArray()));
    }
    for (const key of await stack.redis.keys(`${stack.redisPrefix}*`)) {
      const type = await stack.redis.type(key);
      if (type === 'string') parts.push(String(await stack.redis.get(key)));
      else if (type === 'hash') parts.push(JSON.stringify(await stack.redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await stack.redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await stack.redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await stack.redis.zrange(key, 0, -1)));
    }
    return parts.join('\n');
  }

  /** Encrypts `text` from `from` to `to` under `ck` and sends it on `client`; returns its id. */
  async function sendText(
    client: WsClient,
    ck: ConversationKey,
    from: string,
    to: string,
    text: string,
  ): Promise<string> {
    const id = newMessageId();
    return client.sendMessage(to, await encryptMessage(ck, text, { from, to, id }), 'message', id);
  }

  it('two registered contacts exchange a key and chat both ways; only ciphertext is stored, queued, cached or logged', async () => {
    const [aliceKeys, bobKeys] = await Promise.all([
      generateIdentityKeys(),
      generateIdentityKeys(),
    ]);
    const alice = await register('alice', aliceKeys);
    const bob = await register('bob', bobKeys);
    await rest('POST', apiPath(API_PATHS.contactRequest, 'alice'), bob.accessToken, {});
    await rest('POST', apiPath(API_PATHS.contactAccept, 'bob'), alice.accessToken, {});

    const a = await WsClient.connect(gw.wsUrl, alice.accessToken);
    const b = await WsClient.connect(gw.wsUrl, bob.accessToken);

    // The api's contact events reach both sides through the delivery path, and go on ack.
    const accepted = await b.waitFor<ContactFrame>(
      (f) => f.type === 'contact' && f.event === 'accepted' && f.from === 'alice',
    );
    b.send({ type: 'ack', ids: [accepted.id] });
    await eventually(
      async () =>
        (await stack.db.collection('events').countDocuments({ _id: accepted.id as never })) === 0,
      'the acked contact event to be deleted',
    );

    // alice starts the conversation: a signed envelope with a fresh AES key for bob.
    const bobDir = await rest<KeysResponse>(
      'GET',
      apiPath(API_PATHS.userKeys, 'bob'),
      alice.accessToken,
    );
    const ck = await generateConversationKey();
    const keyId = newMessageId();
    a.sendMessage(
      'bob',
      await sealKeyEnvelope({
        conversationKey: ck,
        from: 'alice',
        to: 'bob',
        recipientWrappingKey: await importWrappingPublicKey(bobDir.keys.wrappingKey),
        senderSigningKey: aliceKeys.signing.privateKey,
      }),
      'key',
      keyId,
    );
    const text1 = `${MARKER} hello bob`;
    const m1 = await sendText(a, ck, 'alice', 'bob', text1);
    await a.waitFor((f) => f.type === 'accepted' && f.id === m1);

    // bob opens the envelope with alice's pinned signing key and reads the message.
    const keyMsg = await b.waitFor<DeliverFrame>((f) => f.type === 'deliver' && f.id === keyId);
    assert.equal(keyMsg.kind, 'key');
    const aliceDir = await rest<KeysResponse>(
      'GET',
      apiPath(API_PATHS.userKeys, 'alice'),
      bob.accessToken,
    );
    const opened = await openKeyEnvelope(keyMsg.body, {
      from: keyMsg.from,
      to: 'bob',
      senderSigningKey: await importSigningPublicKey(aliceDir.keys.signingKey),
      recipientUnwrappingKey: bobKeys.wrapping.privateKey,
    });
    const msg1 = await b.waitFor<DeliverFrame>((f) => f.type === 'deliver' && f.id === m1);
    const bobCk = opened.conversationKey;
    assert.equal(
      await decryptMessageText(bobCk, msg1.body, { from: msg1.from, to: 'bob', id: m1 }),
      text1,
    );

    // While stored (before the ack) MongoDB holds only ciphertext.
    const whileStored = await snapshot();
    assert.ok(whileStored.includes(m1), 'the snapshot does contain the stored message');

    b.send({ type: 'ack', ids: [keyId, m1] });
    await a.waitFor((f) => f.type === 'delivered' && f.id === m1);

    const text2 = `${MARKER} hello alice`;
    const m2 = await sendText(b, bobCk, 'bob', 'alice', text2);
    const msg2 = await a.waitFor<DeliverFrame>((f) => f.type === 'deliver' && f.id === m2);
    assert.equal(
      await decryptMessageText(ck, msg2.body, { from: 'bob', to: 'alice', id: m2 }),
      text2,
    );
    a.send({ type: 'ack', ids: [m2] });
    await b.waitFor((f) => f.type === 'delivered' && f.id === m2);
    await Promise.all([a.close(), b.close()]);

    // The tap saw the traffic (so its silence about the plaintext means something).
    await eventually(() => tapped.some((t) => t.includes(m2)), 'the tap to see the reply');
    const haystacks = {
      mongodb: whileStored + (await snapshot()),
      rabbitmq: tapped.join('\n'),
      redis: whileStored,
      logs: stack.logs(),
    };
    const needles = [MARKER, Buffer.from(MARKER).toString('base64').slice(0, 16)];
    for (const [where, text] of Object.entries(haystacks)) {
      assert.ok(text.length > 0, `${where} was searched`);
      for (const needle of needles) {
        assert.ok(!text.includes(needle), `${where} contains the plaintext (${needle})`);
      }
    }
    // And the logs hold no tokens either.
    assert.ok(!haystacks.logs.includes(alice.accessToken), 'an access token was logged');
  });
});
