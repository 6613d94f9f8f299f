/** The chart's monitoring files are what cdk8s/src/monitoring generates (as the CRD copy is). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  chartAlertsFile,
  chartScrapeFile,
  renderChartAlerts,
  renderChartScrape,
} from '../../src/monitoring/chart-files.js';
import { alertGroups } from '../../src/monitoring/alerts.js';
import { scrapeEndpoints } from '../../src/monitoring/scrape.js';

describe('chart monitoring files', () => {
  it('files/alerts.yaml is current (run `npm run -w @gossip/cdk8s chart-monitoring`)', () => {
    assert.equal(readFileSync(chartAlertsFile, 'utf8'), renderChartAlerts());
    assert.deepStrictEqual(parse(readFileSync(chartAlertsFile, 'utf8')), { groups: alertGroups() });
  });

  it('files/scrape.yaml is current (run `npm run -w @gossip/cdk8s chart-monitoring`)', () => {
    assert.equal(readFileSync(chartScrapeFile, 'utf8'), renderChartScrape());
    const file = parse(readFileSync(chartScrapeFile, 'utf8')) as { endpoints: unknown };
    assert.deepStrictEqual(file.endpoints, scrapeEndpoints());
  });

  it("every alert's runbook_url points at a heading of docs/operations.md", () => {
    const docs = readFileSync(new URL('../../../docs/operations.md', import.meta.url), 'utf8');
    // GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens.
    const anchors = new Set(
      [...docs.matchAll(/^#+ (.+)$/gm)].map((m) =>
        (m[1] ?? '')
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replaceAll(' ', '-'),
      ),
    );
    for (const r of alertGroups().flatMap((g) => g.rules)) {
      const anchor = r.annotations.runbook_url.split('#')[1] ?? '';
      assert.ok(anchors.has(anchor), `${r.alert}: no heading for #${anchor}`);
    }
  });

  it('the chart-wide rules select every cluster: no namespace or cluster matcher', () => {
    for (const r of alertGroups().flatMap((g) => g.rules)) {
      assert.doesNotMatch(r.expr, /namespace="|cluster="/, r.alert);
    }
  });
});
