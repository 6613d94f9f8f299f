/**
 * coalesceWrites leaves a connection alone when amqplib's internals are not the shape it
 * knows (another amqplib version), so AmqpLink falls back to one write per frame instead of
 * throwing on connect. The coalescing itself is tested against RabbitMQ in
 * amqp-link.integration.test.ts.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { ChannelModel } from 'amqplib';
import { coalesceWrites } from '../src/amqp-writes.js';

const model = (connection: unknown): ChannelModel => ({ connection }) as unknown as ChannelModel;

test('an unknown amqplib shape is left alone', () => {
  assert.equal(coalesceWrites(model(undefined)), false);
  assert.equal(coalesceWrites(model({ stream: new PassThrough() })), false);
  const muxer = { _readIncoming: 'not a function' };
  assert.equal(coalesceWrites(model({ stream: new PassThrough(), muxer })), false);
  assert.equal(muxer._readIncoming, 'not a function');
});

test("a round of the writer is corked and uncorked around amqplib's own", () => {
  const stream = new PassThrough();
  const seen: number[] = [];
  const muxer = {
    _readIncoming(this: unknown) {
      assert.equal(this, muxer);
      seen.push(stream.writableCorked);
    },
  };
  assert.equal(coalesceWrites(model({ stream, muxer })), true);
  muxer._readIncoming();
  assert.deepEqual(seen, [1]);
  assert.equal(stream.writableCorked, 0);
});
