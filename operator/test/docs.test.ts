import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { docsPath, withReference } from '../src/tools/crd-reference.js';

/** Prettier pads markdown tables; compare the content, not the padding. */
const normalize = (s: string) =>
  s
    .split('\n')
    .map((l) => l.replace(/-{3,}/g, '---').replace(/\s+/g, ' ').trim())
    .join('\n');

test('docs/operator.md carries the current CRD reference (regenerate with crd-reference.ts --write)', () => {
  const text = readFileSync(docsPath, 'utf8');
  assert.equal(normalize(text), normalize(withReference(text)));
  for (const field of [
    'spec.gateway.minReplicas',
    'spec.dataRetentionPolicy',
    'status.conditions',
  ]) {
    assert.ok(text.includes(`\`${field}\``), `${field} is documented`);
  }
});
