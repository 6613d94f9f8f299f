/**
 * The per-connection rate limit of a real gateway: it is checked before a frame is parsed
 * (so a flood of any kind of frame, binary or garbage included, is refused unread), and a
 * connection that keeps sending past it after `rate_limited` errors is closed with
 * `CLOSE_CODES.rateLimited`, while one that pauses is forgiven.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CLOSE_CODES, newMessageId } from '@gossip/protocol';
import { Stack, type GatewayService } from './support/stack.js';
import { WsClient, type Closed } from './support/wsclient.js';

const isLimited = (f: { type: string; code?: string }) =>
  f.type === 'error' && f.code === 'rate_limited';

/** How the gateway closed `c`; fails (rather than hangs) when it keeps the socket open. */
async function closedBy(c: WsClient): Promise<Closed> {
  let timer: NodeJS.Timeout | undefined;
  const open = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the gateway kept the connection open')), 15_000);
  });
  try {
    return await Promise.race([c.closed, open]);
  } finally {
    clearTimeout(timer);
  }
}

describe('gateway rate limit', () => {
  const stack = new Stack('ratelimit');
  let gw: GatewayService;

  before(async () => {
    await stack.startEngine();
    gw = await stack.startGateway({
      GATEWAY_RATE_PER_SECOND: '10',
      GATEWAY_RATE_BURST: '20',
      GATEWAY_RATE_VIOLATIONS_MAX: '5',
    });
    await stack.createUsers('alice', 'bob', 'carol', 'mallory');
  });
  after(() => stack.close());

  it('a connection that keeps flooding past rate_limited is closed with 4429; others are unaffected', async () => {
    const mallory = await WsClient.connect(gw.wsUrl, await stack.token('mallory'));
    const carol = await WsClient.connect(gw.wsUrl, await stack.token('carol'));
    for (let i = 0; i < 200; i++) mallory.send({ type: 'ping', ts: i });
    const closed = await closedBy(mallory);
    assert.equal(closed.code, CLOSE_CODES.rateLimited);
    const limited = mallory.frames.filter(isLimited).length;
    // Refused with an error first (the client was told), closed at the fifth in a row.
    assert.equal(limited, 4, `rate_limited errors before the close: ${limited}`);
    const ts = Date.now();
    carol.send({ type: 'ping', ts });
    await carol.waitFor((f) => f.type === 'pong' && f.ts === ts);
    await carol.close();
    const text = await (await fetch(`${gw.metricsUrl}/metrics`)).text();
    assert.match(text, /gossip_gateway_rate_limit_closed_total\{[^}]*\} [1-9]/);
  });

  it('frames over the limit are refused before they are parsed: a binary flood is rate limited too', async () => {
    const c = await WsClient.connect(gw.wsUrl, await stack.token('alice'));
    for (let i = 0; i < 60; i++) c.ws.send(Buffer.from([0xff, 0xfe, i]), { binary: true });
    const closed = await closedBy(c);
    assert.equal(closed.code, CLOSE_CODES.rateLimited);
    // About the burst's worth were read (and refused as binary); the rest never were.
    // (Parsed first, as before, every one was answered bad_frame and none was limited.)
    const badFrames = c.frames.filter((f) => f.type === 'error' && f.code === 'bad_frame');
    assert.ok(badFrames.length >= 20 && badFrames.length < 30, `bad_frame: ${badFrames.length}`);
    assert.ok(c.frames.some(isLimited));
  });

  it('a refused send carries its id as ref, and a client that pauses is not disconnected', async () => {
    const c = await WsClient.connect(gw.wsUrl, await stack.token('bob'));
    for (let round = 0; round < 2; round++) {
      // 23 frames: the burst of 20 passes, 3 are refused (fewer than the 5 that close).
      const ids = Array.from({ length: 23 }, () => newMessageId());
      for (const id of ids) c.send({ type: 'send', id, to: 'alice', kind: 'message', body: 'x' });
      // The SDK retries a refused send by its ref: the id must come back although the frame
      // was never parsed.
      await c.waitFor((f) => isLimited(f) && ids.includes((f as { ref?: string }).ref ?? ''));
      // Long enough to refill the bucket (20 at 10/s): the violations are forgiven.
      await new Promise((r) => setTimeout(r, 2500));
    }
    const ts = Date.now();
    c.send({ type: 'ping', ts });
    await c.waitFor((f) => f.type === 'pong' && f.ts === ts);
    assert.equal(c.ws.readyState, c.ws.OPEN);
    await c.close();
  });
});
