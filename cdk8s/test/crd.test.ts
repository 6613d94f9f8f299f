import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { parse } from 'yaml';
import { crdFile, crdReferenceFile, renderCrdYaml } from '../src/crd-cli.js';
import { renderCrdReference } from '../src/crd-reference.js';
import { gossipClusterCrd, toStructuralSchema } from '../src/crd.js';

type Schema = { [key: string]: unknown; properties?: Record<string, Schema>; items?: Schema };

function visit(schema: Schema, path: string, each: (s: Schema, path: string) => void): void {
  each(schema, path);
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    visit(child, `${path}.${name}`, each);
  }
  if (schema.items) visit(schema.items, `${path}[]`, each);
}

const crd = gossipClusterCrd() as {
  spec: {
    names: Record<string, unknown>;
    versions: {
      additionalPrinterColumns: { name: string; jsonPath: string }[];
      subresources: unknown;
      schema: { openAPIV3Schema: Schema };
    }[];
  };
};
const version = crd.spec.versions[0]!;
const root = version.schema.openAPIV3Schema;

describe('GossipCluster CRD', () => {
  it('matches the committed generated file (run `npm run -w @gossip/cdk8s crd` after a change)', () => {
    assert.equal(readFileSync(crdFile, 'utf8'), renderCrdYaml());
    assert.deepStrictEqual(parse(readFileSync(crdFile, 'utf8')), gossipClusterCrd());
  });

  it('has a committed field reference matching the schema', () => {
    const reference = renderCrdReference();
    assert.equal(readFileSync(crdReferenceFile, 'utf8'), reference);
    assert.match(
      reference,
      /^- `spec\.gateway\.scaleDownStabilizationSeconds` \(integer, default `300`, 0 to 86400\)/m,
    );
    assert.match(
      reference,
      /^- on `spec\.redis`: `has\(self\.managed\) != has\(self\.external\)`: redis: set exactly one of managed or external$/m,
    );
  });

  it('is structural: every node typed, no TypeBox keys, no const/anyOf', () => {
    visit(root, '', (schema, path) => {
      assert.ok(typeof schema.type === 'string', `no type at ${path || '/'}`);
      for (const key of ['$id', 'const', 'anyOf', 'oneOf', 'patternProperties', '$ref']) {
        assert.ok(!(key in schema), `${key} at ${path || '/'}`);
      }
      assert.deepStrictEqual(Object.getOwnPropertySymbols(schema), [], `symbols at ${path}`);
    });
  });

  it('carries defaults, enums and CEL rules from the TypeBox schema', () => {
    const spec = root.properties!.spec!;
    const gateway = spec.properties!.gateway!;
    assert.equal(gateway.properties!.scaleDownStabilizationSeconds!.default, 300);
    assert.deepStrictEqual(gateway['x-kubernetes-validations'], [
      {
        rule: '!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas',
        message: 'gateway.minReplicas must be less than or equal to gateway.maxReplicas',
      },
    ]);
    assert.deepStrictEqual(spec.properties!.dataRetentionPolicy, {
      type: 'string',
      enum: ['Retain', 'Delete'],
      description: 'What happens to managed data volumes (PVCs) when the cluster is deleted.',
      default: 'Retain',
    });
    assert.deepStrictEqual(spec.properties!.redis!.default, { managed: {} });
    assert.equal(
      (spec.properties!.redis!['x-kubernetes-validations'] as { rule: string }[])[0]!.rule,
      'has(self.managed) != has(self.external)',
    );
  });

  it('has a status subresource, printer columns, short name and category', () => {
    assert.deepStrictEqual(version.subresources, { status: {} });
    assert.deepStrictEqual(
      version.additionalPrinterColumns.map((c) => [c.name, c.jsonPath]),
      [
        ['Ready', '.status.conditions[?(@.type=="Ready")].status'],
        ['Gateways', '.status.autoscaler.currentReplicas'],
        ['Connections', '.status.autoscaler.connections'],
        ['Reason', '.status.conditions[?(@.type=="Ready")].reason'],
        ['Age', '.metadata.creationTimestamp'],
      ],
    );
    assert.deepStrictEqual(crd.spec.names.shortNames, ['gsc']);
    assert.deepStrictEqual(crd.spec.names.categories, ['gossip']);
  });
});

describe('toStructuralSchema', () => {
  it('refuses schema keys a CRD cannot hold, naming the path', () => {
    const schema = Type.Object({ mode: Type.Literal('a') });
    assert.throws(() => toStructuralSchema(schema), /schema key 'const' at '.mode'/);
  });

  it('drops $id and symbol keys', () => {
    const out = toStructuralSchema(Type.String({ $id: 'Name', maxLength: 3 }));
    assert.deepStrictEqual(out, { type: 'string', maxLength: 3 });
    assert.deepStrictEqual(Object.getOwnPropertySymbols(out), []);
  });
});
