import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTrustProxy } from '@gossip/servicekit';
import { trustProxyEnv } from '../../src/api/trust-proxy.js';
import { InvalidGossipClusterError, validateGossipCluster } from '../../src/api/validate.js';
import { buildClusterObjects } from '../../src/build.js';
import { cluster, find } from '../fixtures.js';

const configOf = (spec: Parameters<typeof cluster>[0], component: 'api' | 'gateway') =>
  (
    find(buildClusterObjects(cluster(spec)), 'ConfigMap', `demo-${component}`) as unknown as {
      data: Record<string, string>;
    }
  ).data;

describe('spec.trustProxy', () => {
  it('defaults to trusting no proxy', () => {
    // GIVEN an empty spec  WHEN built  THEN both services get 0
    assert.equal(configOf({}, 'api').API_TRUST_PROXY, '0');
    assert.equal(configOf({}, 'gateway').GATEWAY_TRUST_PROXY, '0');
  });

  it('passes CIDRs or a hop count to the api and every gateway, in the form they parse', () => {
    const cidrs = { trustProxy: { cidrs: ['10.0.0.0/8', 'fd00::/8'] } };
    assert.equal(configOf(cidrs, 'api').API_TRUST_PROXY, '10.0.0.0/8,fd00::/8');
    assert.equal(configOf(cidrs, 'gateway').GATEWAY_TRUST_PROXY, '10.0.0.0/8,fd00::/8');
    assert.deepEqual(parseTrustProxy(trustProxyEnv({ hops: 0, cidrs: ['10.0.0.0/8'] })), [
      '10.0.0.0/8',
    ]);
    assert.equal(configOf({ trustProxy: { hops: 2 } }, 'gateway').GATEWAY_TRUST_PROXY, '2');
  });

  it('refuses hops and cidrs together, offline as the API server does', () => {
    assert.throws(
      () => validateGossipCluster(cluster({ trustProxy: { hops: 1, cidrs: ['10.0.0.0/8'] } })),
      (err: unknown) =>
        err instanceof InvalidGossipClusterError &&
        err.problems.some((p) => p.includes('trustProxy: set hops or cidrs, not both')),
    );
  });
});
