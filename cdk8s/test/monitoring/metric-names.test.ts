/**
 * The chart's Grafana dashboards are JSON and cannot import `GATEWAY_CONNECTIONS_METRIC`; this
 * test holds them to it instead (the alerts are generated from TypeScript and import it).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { GATEWAY_CONNECTIONS_METRIC } from '@gossip/protocol';
import { alertGroups } from '../../src/monitoring/alerts.js';

const dashboards = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../../charts/gossip/dashboards',
);

/** Every PromQL expression of a dashboard's panels. */
function exprs(file: string): string[] {
  const out: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === 'expr' && typeof v === 'string') out.push(v);
        else visit(v);
      }
    }
  };
  visit(JSON.parse(readFileSync(join(dashboards, file), 'utf8')));
  return out;
}

describe('the gateway connections gauge is named once', () => {
  for (const file of ['gossip-overview.json', 'gossip-gateways.json']) {
    it(`${file} plots ${GATEWAY_CONNECTIONS_METRIC}`, () => {
      const gauge = new RegExp(`\\b${GATEWAY_CONNECTIONS_METRIC}\\{`);
      assert.ok(exprs(file).filter((e) => gauge.test(e)).length >= 2, file);
    });
  }

  it('the connection-churn alert reads it and its opened/closed counters', () => {
    const churn = alertGroups()
      .flatMap((g) => g.rules)
      .find((r) => r.alert === 'GossipHighConnectionChurn');
    assert.ok(churn);
    for (const m of ['', '_opened_total', '_closed_total']) {
      assert.match(churn.expr, new RegExp(`\\b${GATEWAY_CONNECTIONS_METRIC}${m}\\b`));
    }
  });
});
