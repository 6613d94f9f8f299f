/**
 * The PrometheusRule's groups are valid Prometheus rules and fire for their own cluster only
 * (checked by the real promtool).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { testEnv, uniqueName } from '@gossip/testenv';
import { stringify } from 'yaml';
import { buildClusterObjects } from '../../src/build.js';
import type { AlertGroup } from '../../src/monitoring/alerts.js';
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

  it('fires for its own cluster and not for a cluster of the same name in another namespace', (t) => {
    // GIVEN the rules of chat/demo, and every api of chat/demo and of other/demo down
    const objects = buildClusterObjects(cluster({ monitoring: { prometheusRule: true } }));
    const groups = (find(objects, 'PrometheusRule', 'demo').spec as { groups: AlertGroup[] })
      .groups;
    const rules = groups.flatMap((g) => g.rules);
    const env = testEnv();
    const dir = join(env.dir, 'scratch', uniqueName('promtool'));
    mkdirSync(dir, { recursive: true });
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups }));
    const labels = { namespace: 'chat', cluster: 'demo', component: 'api' };
    const instance = { ...labels, instance: '10.0.0.1:9090', job: 'api', pod: 'demo-api-0' };
    /** The alert as promtool expects it: labels, and annotations with $labels filled in. */
    const expected = (name: string, extra: Record<string, string>) => {
      const rule = rules.find((r) => r.alert === name)!;
      const fill = (text: string) =>
        text.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, l: string) => extra[l] ?? '');
      return {
        exp_labels: { ...extra, severity: rule.labels.severity },
        exp_annotations: Object.fromEntries(
          Object.entries(rule.annotations).map(([k, v]) => [k, fill(v)]),
        ),
      };
    };
    const series = (l: Record<string, string>) =>
      `up{${Object.entries(l)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',')}}`;
    const tests = {
      rule_files: ['rules.yaml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            { series: series(instance), values: '0x30' },
            { series: series({ ...instance, namespace: 'other' }), values: '0x30' },
          ],
          alert_rule_test: [
            {
              eval_time: '20m',
              alertname: 'GossipComponentDown',
              exp_alerts: [expected('GossipComponentDown', labels)],
            },
            {
              eval_time: '20m',
              alertname: 'GossipInstanceDown',
              exp_alerts: [expected('GossipInstanceDown', instance)],
            },
          ],
        },
      ],
    };
    writeFileSync(join(dir, 'rules.test.yaml'), stringify(tests));
    // WHEN
    const out = execFileSync(env.bin.promtool, ['test', 'rules', 'rules.test.yaml'], {
      cwd: dir,
      encoding: 'utf8',
    });
    // THEN (promtool fails the run on a missing or an extra alert)
    assert.match(out, /SUCCESS/);
  });
});
