/** The chart ships the CRD that cdk8s generates, byte for byte (`npm run chart:crd` copies it). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { chartDir, repoRoot } from '../src/index.js';

test("the chart's CRD is identical to cdk8s/generated (run `npm run chart:crd` when this fails)", () => {
  const generated = readFileSync(
    join(repoRoot, 'cdk8s/generated/gossip.dev_gossipclusters.yaml'),
    'utf8',
  );
  const shipped = readFileSync(join(chartDir, 'crds/gossip.dev_gossipclusters.yaml'), 'utf8');
  assert.ok(generated.includes('name: gossipclusters.gossip.dev'));
  assert.equal(shipped, generated);
});
