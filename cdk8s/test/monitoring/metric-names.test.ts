/**
 * The chart's Grafana dashboards are JSON and cannot import the metric name constants of
 * @gossip/protocol (`GATEWAY_CONNECTIONS_METRIC`, the `gossip_attachments_*` names); this test
 * holds them to those instead (the alerts are generated from TypeScript and import them).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  ATTACHMENTS_DELETED_METRIC,
  ATTACHMENTS_EXPIRED_METRIC,
  ATTACHMENTS_STORED_BYTES_METRIC,
  ATTACHMENTS_STORED_METRIC,
  ATTACHMENT_DOWNLOADED_BYTES_METRIC,
  ATTACHMENT_DOWNLOADS_METRIC,
  ATTACHMENT_REFUSED_METRIC,
  ATTACHMENT_UPLOADED_BYTES_METRIC,
  ATTACHMENT_UPLOADS_METRIC,
  GATEWAY_CONNECTIONS_METRIC,
} from '@gossip/protocol';
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

/** The panels of `file` under its row titled `row` (up to the next row), collapsed or not. */
function rowPanels(file: string, row: string): { title: string; exprs: string[] }[] {
  type P = { type: string; title: string; panels?: P[]; targets?: { expr?: string }[] };
  const panels = (JSON.parse(readFileSync(join(dashboards, file), 'utf8')) as { panels: P[] })
    .panels;
  const start = panels.findIndex((p) => p.type === 'row' && p.title === row);
  assert.ok(start >= 0, `${file} has no "${row}" row`);
  const end = panels.findIndex((p, i) => i > start && p.type === 'row');
  const inside = [
    ...(panels[start]?.panels ?? []),
    ...panels.slice(start + 1, end === -1 ? undefined : end),
  ];
  return inside.map((p) => ({
    title: p.title,
    exprs: (p.targets ?? []).map((t) => t.expr ?? ''),
  }));
}

describe('the Attachments row plots the attachment metrics by their protocol names', () => {
  const panels = rowPanels('gossip-delivery.json', 'Attachments');
  const plotting = (metric: string) =>
    panels.filter((p) => p.exprs.some((e) => new RegExp(`\\b${metric}\\{`).test(e)));

  for (const metric of [
    ATTACHMENTS_STORED_BYTES_METRIC,
    ATTACHMENTS_STORED_METRIC,
    ATTACHMENT_UPLOADS_METRIC,
    ATTACHMENT_DOWNLOADS_METRIC,
    ATTACHMENT_UPLOADED_BYTES_METRIC,
    ATTACHMENT_DOWNLOADED_BYTES_METRIC,
    ATTACHMENT_REFUSED_METRIC,
    ATTACHMENTS_EXPIRED_METRIC,
    ATTACHMENTS_DELETED_METRIC,
  ]) {
    it(`plots ${metric}`, () => {
      assert.equal(plotting(metric).length, 1, metric);
    });
  }

  it('splits refusals and expiries by reason, and no panel is a histogram', () => {
    for (const metric of [ATTACHMENT_REFUSED_METRIC, ATTACHMENTS_EXPIRED_METRIC]) {
      assert.match(plotting(metric)[0]?.exprs.join('\n') ?? '', /sum by \(reason\)/, metric);
    }
    // The prometheus test needs data in every panel from a chat that sends no attachment:
    // counters and gauges exist from the start, histogram buckets would not.
    for (const p of panels) {
      for (const e of p.exprs) assert.doesNotMatch(e, /_bucket|histogram_quantile/, p.title);
    }
  });
});
