/**
 * The offline CEL check (src/api/cel.ts) against the rules as the generated CRD carries
 * them: every rule compiles for the offline evaluator (a rule using a function it lacks
 * fails here, not at synth time), and the cases the hand-written TypeScript twins were
 * tested with give the same verdicts when the CRD's own CEL is evaluated.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type, type TSchema } from '@sinclair/typebox';
import { celValue, compileRule, evaluateRule, isTransitionRule } from '../../src/api/cel.js';
import { gossipClusterCrd } from '../../src/crd.js';

interface Node {
  properties?: Record<string, Node>;
  items?: Node;
  'x-kubernetes-validations'?: { rule: string; message: string }[];
}

/** Every rule of the CRD by where it sits (`(root)`, `spec.gateway`, ...). */
function crdRules(): Map<string, string[]> {
  const crd = gossipClusterCrd() as {
    spec: { versions: { schema: { openAPIV3Schema: Node } }[] };
  };
  const out = new Map<string, string[]>();
  const walk = (node: Node, path: string) => {
    const rules = (node['x-kubernetes-validations'] ?? []).map((v) => v.rule);
    if (rules.length > 0) out.set(path, rules);
    for (const [k, child] of Object.entries(node.properties ?? {})) {
      walk(child, path === '(root)' ? k : `${path}.${k}`);
    }
    if (node.items) walk(node.items, `${path}[]`);
  };
  walk(crd.spec.versions[0]!.schema.openAPIV3Schema, '(root)');
  return out;
}

const rules = crdRules();
const only = (path: string): string => {
  const found = rules.get(path);
  assert.equal(found?.length, 1, `one rule on ${path}: ${JSON.stringify(found)}`);
  return found![0]!;
};
const int = Type.Integer();
const obj = (props: Record<string, TSchema>) => Type.Object(props);

describe('the CRD rules, evaluated offline', () => {
  it('every rule compiles; transition rules are the oldSelf ones', () => {
    assert.ok(rules.size >= 6, `rules found at ${[...rules.keys()].join(', ')}`);
    for (const [path, list] of rules) {
      for (const rule of list) assert.doesNotThrow(() => compileRule(rule), `${path}: ${rule}`);
    }
    assert.deepEqual([...rules.values()].flat().filter(isTransitionRule), [
      'self == oldSelf',
      'self == oldSelf',
      'self == oldSelf',
    ]);
  });

  it('gateway: minReplicas <= maxReplicas, either may be absent', () => {
    const rule = only('spec.gateway');
    const s = obj({ minReplicas: int, maxReplicas: int });
    assert.equal(evaluateRule(rule, { minReplicas: 5, maxReplicas: 2 }, s), false);
    assert.equal(evaluateRule(rule, { minReplicas: 2, maxReplicas: 2 }, s), true);
    assert.equal(evaluateRule(rule, { maxReplicas: 2 }, s), true);
    assert.equal(evaluateRule(rule, {}, s), true);
  });

  it('backing services: exactly one of managed or external', () => {
    for (const service of ['rabbitmq', 'mongodb', 'redis']) {
      const rule = only(`spec.${service}`);
      const s = Type.Object({});
      const external = { secretRef: { name: 'r', key: 'url' } };
      assert.equal(evaluateRule(rule, { managed: {}, external }, s), false);
      assert.equal(evaluateRule(rule, {}, s), false);
      assert.equal(evaluateRule(rule, { managed: {} }, s), true);
      assert.equal(evaluateRule(rule, { external }, s), true);
    }
  });

  it('mongodb.managed: one replica only, compared as CEL ints', () => {
    const rule = only('spec.mongodb.managed');
    const s = obj({ replicas: int });
    assert.equal(evaluateRule(rule, { replicas: 3 }, s), false);
    assert.equal(evaluateRule(rule, { replicas: 1 }, s), true);
    assert.equal(evaluateRule(rule, {}, s), true);
    assert.equal(typeof (celValue(s, { replicas: 1 }) as { replicas: unknown }).replicas, 'bigint');
  });

  it('trustProxy: hops or cidrs, not both', () => {
    const rule = only('spec.trustProxy');
    const s = obj({ hops: int, cidrs: Type.Array(Type.String()) });
    assert.equal(evaluateRule(rule, { hops: 1, cidrs: ['10.0.0.0/8'] }, s), false);
    assert.equal(evaluateRule(rule, { hops: 0, cidrs: ['10.0.0.0/8'] }, s), true);
    assert.equal(evaluateRule(rule, { hops: 2, cidrs: [] }, s), true);
    assert.equal(evaluateRule(rule, {}, s), true);
  });

  it('root: the name is a DNS label of at most 40 characters', () => {
    const [size, label] = rules.get('(root)')!;
    const s = Type.Object({});
    const named = (name: string) => ({ metadata: { name } });
    assert.equal(evaluateRule(size!, named('a'.repeat(40)), s), true);
    assert.equal(evaluateRule(size!, named('a'.repeat(41)), s), false);
    assert.equal(evaluateRule(label!, named('chat-1'), s), true);
    assert.equal(evaluateRule(label!, named('a.b'), s), false);
    assert.equal(evaluateRule(label!, named('-a'), s), false);
  });

  it('a rule that cannot be evaluated says why instead of passing', () => {
    const held = evaluateRule('self.missing.size() < 2', {}, Type.Object({}));
    assert.equal(typeof held, 'string');
    assert.match(held as string, /missing/);
  });
});
