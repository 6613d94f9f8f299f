import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../src/config.js';

test('defaults: port 8080, all namespaces, client-go lease timings', () => {
  const c = loadConfig({ OPERATOR_WATCH_NAMESPACE: '' });
  assert.equal(c.metricsPort, 8080);
  assert.equal(c.watchNamespace, undefined, 'empty counts as unset');
  assert.deepEqual(
    [c.leaseDurationSeconds, c.renewDeadlineSeconds, c.retryPeriodSeconds],
    [15, 10, 2],
  );
  assert.equal(c.leaseName, 'gossip-operator');
  assert.ok(Object.isFrozen(c));
});

test('a bad value names its variable', () => {
  assert.throws(() => loadConfig({ OPERATOR_METRICS_PORT: 'http' }), /OPERATOR_METRICS_PORT/);
  assert.throws(() => loadConfig({ OPERATOR_LOG_LEVEL: 'loud' }), /OPERATOR_LOG_LEVEL/);
  assert.throws(
    () => loadConfig({ OPERATOR_RENEW_DEADLINE_SECONDS: '20' }),
    /OPERATOR_RENEW_DEADLINE_SECONDS \(20\) must be less than OPERATOR_LEASE_DURATION_SECONDS/,
  );
});
