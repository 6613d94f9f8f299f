/**
 * AES-256-GCM of one v2 message (12-byte nonce, 16-byte tag appended, as WebCrypto's
 * output): in Node through its OpenSSL cipher directly (`node:crypto`, reached through
 * `process.getBuiltinModule` so that nothing imports it in a browser), elsewhere through
 * WebCrypto. The same cipher either way (Node's WebCrypto is that OpenSSL cipher too), so
 * the same bytes: the v2 known-answer vectors (test/v2/vectors.test.ts) and the browser's
 * (packages/web/test/vectors.integration.test.ts) pin them. Why: every message key is new,
 * so WebCrypto cost an `importKey` and a round trip through its job queue and thread pool
 * per message, the largest share of a message's CPU in the SDK (issue 18).
 */
import { concatBytes, type Bytes } from '../bytes.js';

const TAG_BYTES = 16;

/** The few members of Node's `crypto` module used here. */
interface NodeGcm {
  setAAD(aad: Uint8Array): unknown;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
}
interface NodeCipher extends NodeGcm {
  getAuthTag(): Uint8Array;
}
interface NodeDecipher extends NodeGcm {
  setAuthTag(tag: Uint8Array): unknown;
}
interface NodeCrypto {
  createCipheriv(
    alg: 'aes-256-gcm',
    key: Uint8Array,
    iv: Uint8Array,
    o: { authTagLength: number },
  ): NodeCipher;
  createDecipheriv(
    alg: 'aes-256-gcm',
    key: Uint8Array,
    iv: Uint8Array,
    o: { authTagLength: number },
  ): NodeDecipher;
}

function nodeCrypto(): NodeCrypto | undefined {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const m = typeof p?.getBuiltinModule === 'function' ? p.getBuiltinModule('node:crypto') : null;
  const c = m as Partial<NodeCrypto> | null | undefined;
  return c && typeof c.createCipheriv === 'function' && typeof c.createDecipheriv === 'function'
    ? (c as NodeCrypto)
    : undefined;
}

const NODE = nodeCrypto();
const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

/** AES-256-GCM encryption: ciphertext || 16-byte tag. */
export async function aesGcmSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Promise<Bytes> {
  if (NODE) {
    const c = NODE.createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    c.setAAD(aad);
    return concatBytes(c.update(plaintext), c.final(), c.getAuthTag());
  }
  const k = await subtle().importKey('raw', new Uint8Array(key), 'AES-GCM', false, ['encrypt']);
  return new Uint8Array(
    await subtle().encrypt(
      { name: 'AES-GCM', iv: new Uint8Array(nonce), additionalData: new Uint8Array(aad) },
      k,
      new Uint8Array(plaintext),
    ),
  );
}

/** AES-256-GCM decryption of ciphertext || tag; throws when it does not authenticate. */
export async function aesGcmOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Promise<Bytes> {
  if (NODE) {
    if (sealed.length < TAG_BYTES) throw new Error('AES-GCM input shorter than its tag');
    const d = NODE.createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const head = d.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    return concatBytes(head, d.final()); // final() throws unless the tag authenticates
  }
  const k = await subtle().importKey('raw', new Uint8Array(key), 'AES-GCM', false, ['decrypt']);
  return new Uint8Array(
    await subtle().decrypt(
      { name: 'AES-GCM', iv: new Uint8Array(nonce), additionalData: new Uint8Array(aad) },
      k,
      new Uint8Array(sealed),
    ),
  );
}
