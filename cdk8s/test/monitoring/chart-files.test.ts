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

  it('the chart-wide rules select every cluster: no namespace or cluster matcher', () => {
    for (const r of alertGroups().flatMap((g) => g.rules)) {
      assert.doesNotMatch(r.expr, /namespace="|cluster="/, r.alert);
    }
  });
});
