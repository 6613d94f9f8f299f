import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ATTACHMENT_CHUNK_BYTES, attachmentCiphertextBytes } from '@gossip/protocol';
import {
  ATTACHMENT_SEALED_CHUNK_BYTES,
  AttachmentDigest,
  attachmentChunkAad,
  attachmentChunkNonce,
  decryptAttachment,
  encryptAttachment,
  fixedPieces,
  generateAttachmentKey,
  importAttachmentKey,
  type AttachmentKey,
  type ByteSource,
} from '../src/attachment.js';
import { concatBytes, encodeFields, fromBase64Url, toBase64Url, toHex } from '../src/bytes.js';
import { CryptoError } from '../src/errors.js';

const isCode = (code: string) => (e: unknown) => e instanceof CryptoError && e.code === code;

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const part of source) out.push(part);
  return out;
}

/** Deterministic, non-repeating-looking test content of `n` bytes. */
function content(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 131 + (i >> 8) * 7) & 0xff;
  return out;
}

/** Yields `bytes` in uneven slices, as a network or a file stream would. */
function* slices(bytes: Uint8Array, size = 10_007): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function sealed(key: AttachmentKey, plain: Uint8Array): Promise<Uint8Array[]> {
  return collect(encryptAttachment(key, slices(plain)));
}

async function webCryptoDigest(bytes: Uint8Array): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(bytes))));
}

async function open(key: AttachmentKey, chunks: ByteSource, size?: number): Promise<Uint8Array> {
  const whole = concatBytes(...[...(chunks as Iterable<Uint8Array>)]);
  const expected = size === undefined ? undefined : { size, digest: await webCryptoDigest(whole) };
  return concatBytes(...(await collect(decryptAttachment(key, slices(whole, 30_001), expected))));
}

for (const [label, size] of [
  ['0 bytes', 0],
  ['1 byte', 1],
  ['exactly one chunk', ATTACHMENT_CHUNK_BYTES],
  ['one chunk and one byte', ATTACHMENT_CHUNK_BYTES + 1],
  ['many chunks (5.5)', ATTACHMENT_CHUNK_BYTES * 5 + ATTACHMENT_CHUNK_BYTES / 2],
] as const) {
  test(`an attachment of ${label} round-trips, at the size protocol's attachmentCiphertextBytes says`, async () => {
    const key = await generateAttachmentKey();
    const plain = content(size);
    const chunks = await sealed(key, plain);
    assert.equal(chunks.length, Math.max(1, Math.ceil(size / ATTACHMENT_CHUNK_BYTES)));
    for (const c of chunks.slice(0, -1)) assert.equal(c.length, ATTACHMENT_SEALED_CHUNK_BYTES);
    const total = chunks.reduce((n, c) => n + c.length, 0);
    assert.equal(total, attachmentCiphertextBytes(size));
    assert.deepEqual(await open(key, chunks, size), plain);
  });
}

test('the chunk nonce is four zero bytes and the 64-bit big-endian index; the AAD binds index and last flag', () => {
  assert.equal(toHex(attachmentChunkNonce(0)), '000000000000000000000000');
  assert.equal(toHex(attachmentChunkNonce(258)), '000000000000000000000102');
  assert.deepEqual(
    attachmentChunkAad(3, true),
    encodeFields(['gossip/attachment', '1', '3', 'last']),
  );
  assert.deepEqual(
    attachmentChunkAad(3, false),
    encodeFields(['gossip/attachment', '1', '3', 'more']),
  );
  assert.throws(() => attachmentChunkNonce(-1), isCode('bad_format'));
});

test('each file gets its own key, so equal files give different ciphertexts', async () => {
  const plain = content(1000);
  const a = await sealed(await generateAttachmentKey(), plain);
  const b = await sealed(await generateAttachmentKey(), plain);
  assert.notDeepEqual(a, b);
});

test('the key travels as 43 base64url characters and imports back; a short key is bad_format', async () => {
  const key = await generateAttachmentKey();
  assert.match(key.raw, /^[A-Za-z0-9_-]{43}$/);
  const again = await importAttachmentKey(key.raw);
  const plain = content(70_000);
  assert.deepEqual(await open(again, await sealed(key, plain), plain.length), plain);
  await assert.rejects(importAttachmentKey(toBase64Url(new Uint8Array(16))), isCode('bad_format'));
});

test('the incremental digest equals WebCrypto SHA-256 of the whole ciphertext', async () => {
  const chunks = await sealed(await generateAttachmentKey(), content(200_000));
  const d = new AttachmentDigest();
  for (const c of chunks) d.update(c);
  assert.equal(d.digest(), await webCryptoDigest(concatBytes(...chunks)));
  assert.equal(fromBase64Url(d.digest()).length, 32);
});

test('a flipped byte in any chunk is refused', async () => {
  const key = await generateAttachmentKey();
  const plain = content(ATTACHMENT_CHUNK_BYTES * 3);
  for (const which of [0, 1, 2]) {
    const chunks = (await sealed(key, plain)).map((c) => new Uint8Array(c));
    chunks[which]![100]! ^= 0x01;
    await assert.rejects(open(key, chunks), isCode('decrypt_failed'));
  }
});

test('swapped chunks are refused', async () => {
  const key = await generateAttachmentKey();
  const chunks = await sealed(key, content(ATTACHMENT_CHUNK_BYTES * 3));
  await assert.rejects(open(key, [chunks[1]!, chunks[0]!, chunks[2]!]), isCode('decrypt_failed'));
});

test('a dropped chunk is refused (in the middle, and the last)', async () => {
  const key = await generateAttachmentKey();
  const chunks = await sealed(key, content(ATTACHMENT_CHUNK_BYTES * 2 + 5));
  await assert.rejects(open(key, [chunks[0]!, chunks[2]!]), isCode('decrypt_failed'));
  await assert.rejects(open(key, [chunks[0]!, chunks[1]!]), isCode('decrypt_failed'));
});

test('a truncated file is refused: cut inside a chunk, inside a tag, or to nothing', async () => {
  const key = await generateAttachmentKey();
  const whole = concatBytes(...(await sealed(key, content(ATTACHMENT_CHUNK_BYTES + 500))));
  await assert.rejects(open(key, [whole.subarray(0, whole.length - 1)]), isCode('decrypt_failed'));
  await assert.rejects(
    open(key, [whole.subarray(0, ATTACHMENT_SEALED_CHUNK_BYTES + 10)]),
    isCode('decrypt_failed'),
  );
  await assert.rejects(open(key, []), isCode('decrypt_failed'));
});

test('a chunk appended after the last is refused', async () => {
  const key = await generateAttachmentKey();
  const chunks = await sealed(key, content(ATTACHMENT_CHUNK_BYTES));
  const other = await sealed(key, content(10));
  await assert.rejects(open(key, [chunks[0]!, other[0]!]), isCode('decrypt_failed'));
});

test('another file of the same length, or a wrong key, is refused', async () => {
  const key = await generateAttachmentKey();
  const chunks = await sealed(key, content(1000));
  await assert.rejects(open(await generateAttachmentKey(), chunks), isCode('decrypt_failed'));
});

test('with an expectation, a digest or size mismatch is refused before the last chunk is yielded', async () => {
  const key = await generateAttachmentKey();
  const plain = content(ATTACHMENT_CHUNK_BYTES + 10);
  const chunks = await sealed(key, plain);
  const got: Uint8Array[] = [];
  const badDigest = { size: plain.length, digest: toBase64Url(new Uint8Array(32)) };
  await assert.rejects(
    (async () => {
      for await (const c of decryptAttachment(key, chunks, badDigest)) got.push(c);
    })(),
    isCode('decrypt_failed'),
  );
  assert.equal(got.length, 1, 'only the first (authenticated) chunk came out');
  const whole = concatBytes(...chunks);
  await assert.rejects(
    collect(
      decryptAttachment(key, chunks, {
        size: plain.length - 1,
        digest: await webCryptoDigest(whole),
      }),
    ),
    isCode('decrypt_failed'),
  );
});

test('fixedPieces cuts exact pieces, marks the last one, and gives one empty piece for nothing', async () => {
  const pieces = await collect(fixedPieces([content(5), content(7)], 4));
  assert.deepEqual(
    pieces.map((p) => [p.bytes.length, p.last]),
    [
      [4, false],
      [4, false],
      [4, true],
    ],
  );
  assert.deepEqual(
    (await collect(fixedPieces([], 4))).map((p) => [p.bytes.length, p.last]),
    [[0, true]],
  );
});
