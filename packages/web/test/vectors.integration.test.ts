/**
 * Issue 16's known-answer vectors in Chromium: @gossip/crypto's checkVectors and
 * computeVectors, bundled by the web client's Vite config (as the page bundles them), run
 * in Debian's Chromium on packages/crypto/test/v2/vectors.json, the very file
 * packages/crypto's Node test checks. Chromium's WebCrypto (BoringSSL) must reproduce
 * every value byte for byte, agree with Node's own run, and catch a changed vector.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { computeVectors, type Vectors } from '@gossip/crypto';
import { repoRoot } from './support/stack.js';
import { openModulePage, type ModulePage } from './support/module-page.js';

const VECTORS_PATH = `${repoRoot}/packages/crypto/test/v2/vectors.json`;
const vectors = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as Vectors;

let kat: ModulePage;

before(async () => {
  kat = await openModulePage('test/support/kat-entry.ts', 'kat');
});

after(async () => {
  await kat?.close();
});

test('Chromium reproduces every value of vectors.json, and the same map as Node', async () => {
  const names = Object.keys(vectors.outputs);
  assert.ok(names.length >= 60, `the fixture lists every derivation (${names.length})`);
  const r = await kat.run<{
    mismatches: string[];
    outputs: Record<string, string>;
    ua: string;
    ms: number;
  }>(
    `const t0 = performance.now();
    const mismatches = await m.checkVectors(arg);
    const ms = performance.now() - t0;
    return { mismatches, outputs: await m.computeVectors(arg.inputs), ua: navigator.userAgent, ms };`,
    vectors,
  );
  const t0 = performance.now();
  const inNode = await computeVectors(vectors.inputs);
  // A figure, not a pass mark.
  process.stdout.write(
    `checkVectors: ${r.ms.toFixed(0)} ms in Chromium, computeVectors ${(performance.now() - t0).toFixed(0)} ms in Node\n`,
  );
  assert.match(r.ua, /Chrome\/\d+/);
  assert.deepEqual(r.mismatches, []);
  // Byte for byte: the browser's whole output map is the fixture's, and Node's.
  assert.deepEqual(r.outputs, vectors.outputs);
  assert.deepEqual(r.outputs, inNode);
  for (const prefix of [
    'x3dh.with-opk.sk',
    'x3dh.no-opk.sk',
    'ratchet.chain.0.mk',
    'ratchet.message.m1.ciphertext',
  ]) {
    assert.ok(names.includes(prefix), `${prefix} is checked`);
  }
});

test('Chromium catches a changed output, a missing one and a changed input', async () => {
  const changed: Vectors = structuredClone(vectors);
  const flip = (hex: string): string => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
  changed.outputs['ratchet.chain.2.aesKey'] = flip(
    changed.outputs['ratchet.chain.2.aesKey'] as string,
  );
  changed.outputs['x3dh.no-opk.ad'] = flip(changed.outputs['x3dh.no-opk.ad'] as string);
  delete changed.outputs['ratchet.message.m1.header'];
  const input: Vectors = structuredClone(vectors);
  const c = input.inputs.x3dh.find((x) => x.name === 'no-opk');
  assert.ok(c);
  c.rsaSecret = flip(c.rsaSecret);
  const r = await kat.run<{ outputs: string[]; input: string[] }>(
    `return { outputs: await m.checkVectors(arg.changed), input: await m.checkVectors(arg.input) };`,
    { changed, input },
  );
  assert.deepEqual(r.outputs, [
    'ratchet.chain.2.aesKey',
    'ratchet.message.m1.header',
    'x3dh.no-opk.ad',
  ]);
  // The RSA share goes into SK only (the ratchet starts from the other case): the DH
  // outputs and AD still match, SK does not.
  assert.deepEqual(r.input, ['x3dh.no-opk.sk']);
});
