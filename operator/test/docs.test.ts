import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { operatorDocsPath, withCrdTable } from '@gossip/cdk8s';

/** Prettier pads markdown tables; compare the content, not the padding. */
const normalize = (s: string) =>
  s
    .split('\n')
    .map((l) => l.replace(/-{3,}/g, '---').replace(/\s+/g, ' ').trim())
    .join('\n');

test('docs/operator.md carries the current CRD reference (regenerate: npx tsx cdk8s/src/crd-reference.ts --write)', () => {
  const text = readFileSync(operatorDocsPath, 'utf8');
  assert.equal(normalize(text), normalize(withCrdTable(text)));
  for (const field of [
    'spec.gateway.minReplicas',
    'spec.dataRetentionPolicy',
    'status.conditions',
  ]) {
    assert.ok(text.includes(`\`${field}\``), `${field} is documented`);
  }
});
