/**
 * The alert rules: promtool accepts them, every alert has a unit test that makes it fire, and
 * those unit tests pass (`promtool test rules`). The chart's PrometheusRule carries exactly the
 * same groups.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { testEnv } from '@gossip/testenv';
import { parse } from 'yaml';
import { chartDir, renderChart, run } from '../src/index.js';

const filesDir = join(chartDir, 'files');

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RulesFile {
  groups: { name: string; rules: Rule[] }[];
}
interface RuleTests {
  rule_files: string[];
  tests: {
    name: string;
    input_series?: { series: string }[];
    alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[];
  }[];
}

const rules = parse(readFileSync(join(filesDir, 'alerts.yaml'), 'utf8')) as RulesFile;
const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);

test('promtool check rules accepts files/alerts.yaml', () => {
  const res = run(testEnv().bin.promtool, ['check', 'rules', join(filesDir, 'alerts.yaml')]);
  assert.match(res.stdout, new RegExp(`SUCCESS: ${alerts.length} rules found`));
});

test('promtool test rules passes files/alerts.test.yaml', () => {
  const res = run(testEnv().bin.promtool, ['test', 'rules', 'alerts.test.yaml'], {
    cwd: filesDir,
  });
  assert.match(res.stdout + res.stderr, /SUCCESS/);
});

test('the issue asks for these alerts, and each has severity, summary and runbook_url', () => {
  const names = alerts.map((a) => a.alert);
  for (const wanted of [
    'GossipBacklogGrowing',
    'GossipOldestPendingMessageTooOld',
    'GossipHighConnectionChurn',
    'GossipDeliveryLatencyHigh',
    'GossipRedeliveryStorm',
    'GossipGatewaysAtMaxReplicas',
    'GossipOperatorReconcileErrors',
    'GossipComponentDown',
    'GossipAttachmentStorageFillingUp',
    'GossipAttachmentsNotDeleted',
  ]) {
    assert.ok(names.includes(wanted), `missing alert ${wanted}`);
  }
  for (const a of alerts) {
    assert.match(a.labels?.severity ?? '', /^(warning|critical)$/, `${a.alert} severity`);
    assert.ok(a.annotations?.summary, `${a.alert} summary`);
    assert.match(a.annotations?.runbook_url ?? '', /operations\.md#/, `${a.alert} runbook_url`);
    assert.ok(a.for, `${a.alert} has a 'for' so one bad scrape does not page`);
  }
});

test('every alert has a unit test in which it fires and one in which it stays silent', () => {
  const tests = parse(readFileSync(join(filesDir, 'alerts.test.yaml'), 'utf8')) as RuleTests;
  assert.deepEqual(tests.rule_files, ['alerts.yaml']);
  const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
  for (const a of alerts) {
    const mine = cases.filter((c) => c.alertname === a.alert);
    assert.ok(
      mine.some((c) => c.exp_alerts.length > 0),
      `${a.alert} never fires in alerts.test.yaml`,
    );
    // Silent: an empty expectation, or healthy series (namespace "calm") in a test whose
    // expectations promtool checks exactly, so they must not fire.
    const healthySeries = tests.tests.some(
      (t) =>
        (t.alert_rule_test ?? []).some((c) => c.alertname === a.alert) &&
        (t.input_series ?? []).some((s) => s.series.includes('namespace="calm"')),
    );
    const emptyCase = mine.some((c) => c.exp_alerts.length === 0);
    assert.ok(
      healthySeries || emptyCase,
      `${a.alert} has no silent case (healthy series or an empty expectation)`,
    );
  }
});

test('the rendered PrometheusRule carries exactly the groups of files/alerts.yaml', () => {
  const { objects } = renderChart([
    '--set',
    'monitoring.prometheusRule.enabled=true',
    '--set',
    'monitoring.labels.release=kube-prometheus-stack',
  ]);
  const pr = objects.find((o) => o.kind === 'PrometheusRule');
  assert.ok(pr, 'no PrometheusRule rendered');
  assert.equal(pr.apiVersion, 'monitoring.coreos.com/v1');
  assert.equal(pr.metadata.labels?.release, 'kube-prometheus-stack');
  assert.deepEqual((pr.spec as RulesFile).groups, rules.groups);
});
