/**
 * One user on several connections of one gateway (phone and laptop): every push reaches
 * each of them, closing one leaves the others served and the user present, and closing
 * the last releases the user's presence claim.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newMessageId } from '@gossip/protocol';
import { presenceKey } from '../src/presence.js';
import { eventually, Stack, type GatewayService } from './support/stack.js';
import { WsClient } from './support/wsclient.js';

describe('gateway: a user on several connections', () => {
  const stack = new Stack('conns');
  let gw: GatewayService;

  before(async () => {
    await stack.startEngine({ ENGINE_REDELIVERY_SECONDS: '30' });
    gw = await stack.startGateway();
    await stack.createUsers('alice', 'bob');
    await stack.makeContacts('alice', 'bob');
  });
  after(() => stack.close());

  it('pushes to every connection of the user; closing one keeps the rest served and the user present; closing the last releases presence', async () => {
    const claim = (): Promise<string | null> =>
      stack.redis.hget(presenceKey(stack.redisPrefix, 'bob'), gw.instanceId);
    const alice = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    const bobs = await Promise.all(
      [1, 2, 3].map(async () => WsClient.connect(gw.wsUrl, await stack.token('bob'))),
    );
    for (const b of bobs) await b.waitFor((f) => f.type === 'hello');
    await eventually(async () => (await claim()) !== null, 'bob to be claimed present');

    const send = async (): Promise<string> => {
      const id = newMessageId();
      alice.send({ type: 'send', id, to: 'bob', kind: 'message', body: 'b3BhcXVl' });
      await alice.waitFor((f) => f.type === 'accepted' && f.id === id);
      return id;
    };

    const m1 = await send();
    for (const b of bobs) await b.waitFor((f) => f.type === 'deliver' && f.id === m1);

    // Down to two, then to one: the others still get every push and bob stays present.
    const [b1, b2, b3] = bobs as [WsClient, WsClient, WsClient];
    await b1.close();
    const m2 = await send();
    await b2.waitFor((f) => f.type === 'deliver' && f.id === m2);
    await b3.waitFor((f) => f.type === 'deliver' && f.id === m2);
    await b2.close();
    const m3 = await send();
    await b3.waitFor((f) => f.type === 'deliver' && f.id === m3);
    assert.notEqual(await claim(), null, 'bob is still present with one connection left');

    await b3.close();
    await eventually(async () => (await claim()) === null, 'bob’s presence to be released');
    await alice.close();
  });
});
