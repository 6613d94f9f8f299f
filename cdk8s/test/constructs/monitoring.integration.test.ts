/** The PrometheusRule's groups are valid Prometheus rules (checked by the real promtool). */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { testEnv, uniqueName } from '@gossip/testenv';
import { stringify } from 'yaml';
import { buildClusterObjects } from '../../src/build.js';
import { cluster, find } from '../fixtures.js';

describe('PrometheusRule', () => {
  it('passes promtool check rules', (t) => {
    // GIVEN the rules of a cluster with monitoring switched on
    const objects = buildClusterObjects(cluster({ monitoring: { prometheusRule: true } }));
    const rule = find(objects, 'PrometheusRule', 'demo');
    const env = testEnv();
    const dir = join(env.dir, 'scratch', uniqueName('promtool'));
    mkdirSync(dir, { recursive: true });
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, stringify(rule.spec));
    // WHEN
    const out = execFileSync(env.bin.promtool, ['check', 'rules', file], { encoding: 'utf8' });
    // THEN
    const count = (rule.spec as { groups: { rules: unknown[] }[] }).groups.flatMap(
      (g) => g.rules,
    ).length;
    assert.ok(count >= 7, `${count} rules`);
    assert.match(out, new RegExp(`SUCCESS: ${count} rules found`));
  });
});
