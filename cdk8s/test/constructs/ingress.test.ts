import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Testing } from 'cdk8s';
import { MAX_ATTACHMENT_PART_BYTES, REST_PREFIX, WS_PATH } from '@gossip/protocol';
import { buildClusterObjects } from '../../src/build.js';
import type { KubeObject } from '../../src/constructs/kube-object.js';
import { GossipIngress, ingressPaths } from '../../src/constructs/ingress.js';
import { cluster, context, find } from '../fixtures.js';

describe('GossipIngress', () => {
  it('is not emitted unless spec.ingress is set', () => {
    assert.ok(!buildClusterObjects(cluster()).some((o) => o.kind === 'Ingress'));
  });

  it('routes /v1 to the api and /ws to the gateway public ports, TLS from the named Secret', () => {
    // GIVEN
    const chart = Testing.chart();
    // WHEN
    new GossipIngress(chart, 'I', {
      cluster: context({
        ingress: {
          host: 'chat.example.com',
          tlsSecretName: 'chat-tls',
          className: 'nginx',
          annotations: { 'cert-manager.io/cluster-issuer': 'letsencrypt' },
        },
      }),
    });
    // THEN
    const ingress = find(Testing.synth(chart) as KubeObject[], 'Ingress', 'demo');
    assert.deepStrictEqual(ingress.metadata.annotations, {
      'cert-manager.io/cluster-issuer': 'letsencrypt',
      'nginx.ingress.kubernetes.io/proxy-body-size': '8m',
    });
    assert.deepStrictEqual(ingress.spec, {
      ingressClassName: 'nginx',
      tls: [{ hosts: ['chat.example.com'], secretName: 'chat-tls' }],
      rules: [
        {
          host: 'chat.example.com',
          http: {
            paths: [
              {
                path: '/v1',
                pathType: 'Prefix',
                backend: { service: { name: 'demo-api', port: { number: 8080 } } },
              },
              {
                path: '/ws',
                pathType: 'Prefix',
                backend: { service: { name: 'demo-gateway', port: { number: 8081 } } },
              },
            ],
          },
        },
      ],
    });
  });

  it('lets an attachment upload part through ingress-nginx unless the spec sets the limit', () => {
    // GIVEN the largest part a client sends  WHEN no annotation is given  THEN nginx takes it
    const built = (annotations?: Record<string, string>) =>
      find(
        buildClusterObjects(cluster({ ingress: { host: 'chat.example.com', annotations } })),
        'Ingress',
        'demo',
      ).metadata.annotations ?? {};
    const limit = built()['nginx.ingress.kubernetes.io/proxy-body-size'] ?? '';
    const mebibytes = Number(/^(\d+)m$/.exec(limit)?.[1]);
    assert.ok(mebibytes * 1024 ** 2 >= MAX_ATTACHMENT_PART_BYTES, limit);
    // AND a limit in the spec's annotations wins
    assert.equal(
      built({ 'nginx.ingress.kubernetes.io/proxy-body-size': '64m' })[
        'nginx.ingress.kubernetes.io/proxy-body-size'
      ],
      '64m',
    );
  });

  it('uses the paths the protocol defines', () => {
    assert.equal(ingressPaths.api, REST_PREFIX);
    assert.equal(ingressPaths.gateway, WS_PATH);
  });
});
