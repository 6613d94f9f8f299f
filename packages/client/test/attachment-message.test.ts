import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encryptMessage, generateConversationKey } from '@gossip/crypto';
import { MAX_BODY_CHARS } from '@gossip/protocol';
import {
  ATTACHMENT_MESSAGE_MARKER,
  MAX_THUMBNAIL_BYTES,
  encodeAttachmentMessage,
  parseAttachmentMessage,
  type AttachmentRef,
} from '../src/attachments/message.js';

const ref: AttachmentRef = {
  id: '0123456789abcdef0123456789abcdef',
  key: 'A'.repeat(43),
  digest: 'B'.repeat(43),
  size: 1234,
  type: 'image/png',
  name: 'cat.png',
};

test('an attachment message round-trips with its caption and starts with the 0xFF marker', () => {
  const data = encodeAttachmentMessage(ref, 'look');
  assert.equal(data[0], ATTACHMENT_MESSAGE_MARKER);
  assert.deepEqual(parseAttachmentMessage(data), { attachment: ref, text: 'look' });
  assert.deepEqual(parseAttachmentMessage(encodeAttachmentMessage(ref)), {
    attachment: ref,
    text: '',
  });
});

test('text, even text that spells out an attachment message, is not an attachment', () => {
  const typed = new TextEncoder().encode(JSON.stringify({ v: 1, attachment: ref }));
  assert.equal(parseAttachmentMessage(typed), null);
  assert.equal(parseAttachmentMessage(new Uint8Array()), null);
});

test('a malformed description is refused with a clear error', () => {
  const enc = (o: unknown): Uint8Array =>
    new Uint8Array([ATTACHMENT_MESSAGE_MARKER, ...new TextEncoder().encode(JSON.stringify(o))]);
  assert.throws(() => parseAttachmentMessage(enc({ v: 2, attachment: ref })), /version/);
  assert.throws(
    () => parseAttachmentMessage(enc({ v: 1, attachment: { ...ref, id: '../etc' } })),
    /id is malformed/,
  );
  assert.throws(
    () => parseAttachmentMessage(enc({ v: 1, attachment: { ...ref, size: -1 } })),
    /size/,
  );
  assert.throws(
    () => parseAttachmentMessage(enc({ v: 1, attachment: { ...ref, key: 'short' } })),
    /key/,
  );
  assert.throws(() => parseAttachmentMessage(new Uint8Array([0xff, 0x7b])), /not JSON/);
});

test('the largest thumbnail still fits one message body; a larger one is refused', async () => {
  const png = Buffer.alloc(MAX_THUMBNAIL_BYTES, 7).toString('base64');
  const data = encodeAttachmentMessage(
    { ...ref, name: 'n'.repeat(255), thumbnail: { type: 'image/png', data: png } },
    'c'.repeat(200),
  );
  const body = await encryptMessage(await generateConversationKey(), data, {
    from: 'alice',
    to: 'bob',
    id: '0193a2b4-0000-7000-8000-000000000001',
  });
  assert.ok(body.length <= MAX_BODY_CHARS, `${body.length} <= ${MAX_BODY_CHARS}`);
  const big = Buffer.alloc(MAX_THUMBNAIL_BYTES + 1, 7).toString('base64');
  assert.throws(
    () => encodeAttachmentMessage({ ...ref, thumbnail: { type: 'image/png', data: big } }),
    /thumbnail/,
  );
  assert.throws(
    () =>
      encodeAttachmentMessage({
        ...ref,
        thumbnail: { type: 'image/gif' as 'image/png', data: '' },
      }),
    /thumbnail/,
  );
});
