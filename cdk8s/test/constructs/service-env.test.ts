/**
 * A construct's environment is typed from the service's own config schema: a misspelt
 * variable does not compile (the `@ts-expect-error` lines below fail `tsc` when the typing
 * is lost), and every variable the constructs emit is one the service reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiEnv } from '@gossip/api';
import { EngineEnv } from '@gossip/engine';
import { GatewayEnv } from '@gossip/gateway';
import { Testing } from 'cdk8s';
import { AppWorkload } from '../../src/constructs/app-workload.js';
import { buildClusterObjects } from '../../src/build.js';
import type { EnvName } from '../../src/constructs/service-env.js';
import { cluster, context, podSpec } from '../fixtures.js';

const schemas = { api: ApiEnv, gateway: GatewayEnv, engine: EngineEnv } as const;

describe('service env typing', () => {
  it('does not compile a variable the service does not read', () => {
    const chart = Testing.chart();
    const base = { cluster: context(), replicas: 1, resources: {} } as const;
    new AppWorkload(chart, 'Engine', {
      ...base,
      component: 'engine',
      // @ts-expect-error ENGINE_RETENTION_SECOND is misspelt (ENGINE_RETENTION_SECONDS).
      config: { ENGINE_RETENTION_SECOND: '60' },
    });
    new AppWorkload(chart, 'Gateway', {
      ...base,
      component: 'gateway',
      // @ts-expect-error an api variable is not the gateway's.
      secretEnv: { API_MONGO_URL: { name: 's', key: 'k' } },
      config: {},
    });
    const ok: EnvName<'api'> = 'API_MONGO_DB';
    // @ts-expect-error the engine reads no API_ variables.
    const wrong: EnvName<'engine'> = 'API_MONGO_DB';
    assert.deepStrictEqual([ok, wrong], ['API_MONGO_DB', 'API_MONGO_DB']);
  });

  it('emits only variables of the service schema, in ConfigMaps and pod env', () => {
    // GIVEN a cluster with every component
    const objects = buildClusterObjects(cluster());
    let seen = 0;
    for (const component of ['api', 'gateway', 'engine'] as const) {
      const known = Object.keys(schemas[component].properties);
      const name = `demo-${component}`;
      // WHEN
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
      const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
      assert.ok(cm && deployment, component);
      const names = [
        ...Object.keys((cm.data as Record<string, string>) ?? {}),
        ...(podSpec(deployment).containers[0]?.env ?? []).map((e) => e.name),
      ];
      // THEN
      assert.ok(names.length > 3, component);
      for (const n of names)
        assert.ok(known.includes(n), `${component}: ${n} is not in its schema`);
      seen += names.length;
    }
    assert.ok(seen > 10);
  });
});
