/**
 * The Grafana dashboards: the four the issue asks for, each templated by `namespace` and
 * `cluster`, every panel with a query that uses those variables, and the chart ships each one
 * unchanged in a ConfigMap for the Grafana sidecar (rendering is in chart.integration.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dataPanels, loadDashboards, substitute } from '../src/index.js';

const dashboards = loadDashboards();

test('the chart has the Overview, Delivery, Gateways and scaling, and Operator dashboards', () => {
  assert.deepEqual([...dashboards.values()].map((d) => d.title).sort(), [
    'Gossip / Delivery',
    'Gossip / Gateways and scaling',
    'Gossip / Operator',
    'Gossip / Overview',
  ]);
  const uids = [...dashboards.values()].map((d) => d.uid);
  assert.equal(new Set(uids).size, uids.length, 'dashboard uids are unique');
});

for (const [file, d] of dashboards) {
  test(`${file}: templated by datasource, namespace and cluster`, () => {
    const vars = new Map(d.templating.list.map((v) => [v.name, v]));
    assert.equal(vars.get('datasource')?.type, 'datasource');
    for (const name of ['namespace', 'cluster']) {
      const v = vars.get(name);
      assert.ok(v, `no $${name} variable`);
      assert.equal(v.type, 'query');
      assert.match(JSON.stringify(v.query), /label_values\(/);
    }
    assert.match(
      JSON.stringify(vars.get('cluster')?.query),
      /\$namespace/,
      'the cluster list follows the chosen namespace',
    );
  });

  test(`${file}: every panel has a query that filters on the dashboard's variables`, () => {
    const panels = dataPanels(d);
    assert.ok(panels.length >= 6, 'a dashboard worth the name');
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    const declared = new Set(d.templating.list.map((v) => v.name));
    for (const p of panels) {
      const targets = p.targets ?? [];
      assert.ok(targets.length > 0, `panel "${p.title}" has no target`);
      assert.match(JSON.stringify(p), /"uid":"\$\{datasource\}"/, `panel "${p.title}" datasource`);
      for (const t of targets) {
        const expr = t.expr ?? '';
        assert.ok(expr.trim() !== '', `panel "${p.title}" target ${t.refId} has no expr`);
        // Operator-wide series carry no cluster: they select the operator instance instead.
        const scoped =
          (expr.includes('namespace=~"$namespace"') && expr.includes('cluster=~"$cluster"')) ||
          (expr.includes('component="operator"') && expr.includes('instance=~"$operator"'));
        assert.ok(scoped, `panel "${p.title}": ${expr} does not filter on the variables`);
        for (const m of expr.matchAll(/\$\{?(\w+)/g)) {
          const name = m[1] ?? '';
          assert.ok(
            declared.has(name) || name.startsWith('__'),
            `panel "${p.title}" uses undeclared $${name}`,
          );
        }
        // Every variable substitutes to a plain PromQL string.
        assert.doesNotMatch(
          substitute(expr, { namespace: 'ns', cluster: 'c', operator: '.*' }),
          /\$/,
        );
      }
    }
  });
}
