/**
 * Offline twin of what the API server does with a GossipCluster: apply the schema defaults,
 * check the schema, refuse unknown fields, evaluate the cross-field rules. Used by
 * `npm run synth` and by the constructs so a bad spec fails before anything is built.
 */
import { Kind } from '@sinclair/typebox';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { celRulesOf, evaluateRule, isTransitionRule } from './cel.js';
import { GossipCluster } from './v1alpha1.js';
import type { GossipCluster as Cluster, ResolvedGossipClusterSpec } from './v1alpha1.js';

/** A GossipCluster whose spec has every default applied. */
export interface ResolvedGossipCluster extends Omit<Cluster, 'spec'> {
  spec: ResolvedGossipClusterSpec;
}

/** Thrown for an invalid GossipCluster; `problems` lists each one as `path: message`. */
export class InvalidGossipClusterError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid GossipCluster:\n  - ${problems.join('\n  - ')}`);
    this.name = 'InvalidGossipClusterError';
  }
}

/** Returns a defaulted deep copy of `cluster` (the input is not modified). No validation. */
export function applyDefaults(cluster: Cluster): ResolvedGossipCluster {
  return defaultValue(GossipCluster, structuredClone(cluster)) as ResolvedGossipCluster;
}

/**
 * Structural defaulting as the API server does it: a `default` fills an absent field only,
 * then defaulting goes on inside it. (TypeBox's `Value.Default` instead merges an object
 * default into a present object, which would add `managed: {}` next to a user's `external`.)
 */
export function defaultValue(schema: TSchema, value: unknown): unknown {
  const filled: unknown =
    value === undefined && schema.default !== undefined ? structuredClone(schema.default) : value;
  if (typeof filled !== 'object' || filled === null) return filled;
  if (Array.isArray(filled)) {
    return schema.items
      ? filled.map((item) => defaultValue(schema.items as TSchema, item))
      : filled;
  }
  const record = filled as Record<string, unknown>;
  for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, TSchema>)) {
    const v = defaultValue(child, record[key]);
    if (v !== undefined) record[key] = v;
  }
  return record;
}

/**
 * Defaults and validates `input` like the API server would (schema, unknown fields, CEL rules
 * except transition rules), returning the defaulted cluster.
 * @throws InvalidGossipClusterError listing every problem found.
 */
export function validateGossipCluster(input: unknown): ResolvedGossipCluster {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidGossipClusterError(['the document is not an object']);
  }
  const cluster = defaultValue(GossipCluster, structuredClone(input));
  const problems: string[] = [];
  for (const error of Value.Errors(GossipCluster, cluster)) {
    const where = error.path === '' ? '(root)' : error.path.slice(1).replaceAll('/', '.');
    const expected = (error.schema as { enum?: unknown[] }).enum;
    const message = expected ? `must be one of ${expected.join(', ')}` : error.message;
    problems.push(`${where}: ${message}`);
  }
  if (problems.length === 0) walk(GossipCluster, cluster, '', problems);
  if (problems.length > 0) throw new InvalidGossipClusterError(problems);
  return cluster as ResolvedGossipCluster;
}

/** Finds unknown fields and failing CEL rules (./cel.ts) in an already schema-valid value. */
function walk(schema: TSchema, value: unknown, path: string, problems: string[]): void {
  if (typeof value !== 'object' || value === null) return;
  const where = path === '' ? '(root)' : path;
  for (const { rule, message } of celRulesOf(schema)) {
    if (isTransitionRule(rule)) continue;
    const held = evaluateRule(rule, value, schema);
    if (held === false) problems.push(`${where}: ${message}`);
    else if (held !== true) problems.push(`${where}: rule ${rule} could not be evaluated: ${held}`);
  }
  if (schema[Kind] === 'Array' && Array.isArray(value)) {
    value.forEach((item, i) => walk(schema.items as TSchema, item, `${path}[${i}]`, problems));
    return;
  }
  if (schema[Kind] !== 'Object' || schema.additionalProperties === true) return;
  const properties = schema.properties as Record<string, TSchema>;
  for (const [key, child] of Object.entries(value)) {
    const at = path === '' ? key : `${path}.${key}`;
    const childSchema = properties[key];
    if (childSchema === undefined) problems.push(`${at}: unknown field`);
    else walk(childSchema, child, at, problems);
  }
}
