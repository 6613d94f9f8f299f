/**
 * The CRD's CEL rules (`x-kubernetes-validations`) evaluated offline with @bufbuild/cel,
 * from the very rule text the API server runs, so `npm run synth` and the operator refuse
 * the same specs with the same messages and there is no TypeScript copy of a rule to
 * drift from it. `self` is bound as the API server binds it: the object at the rule's
 * place, integers as CEL `int` (so `self.replicas == 1` compares two ints). Transition
 * rules (they read `oldSelf`) need the stored object and are left to the API server.
 */
import { celEnv, isCelError, parse, plan, type CelInput } from '@bufbuild/cel';
import { Kind, type TSchema } from '@sinclair/typebox';

/** One `x-kubernetes-validations` entry. */
export interface CelRule {
  readonly rule: string;
  readonly message: string;
}

/** The CEL rules a schema node carries (see `withRules`). */
export function celRulesOf(schema: TSchema): readonly CelRule[] {
  return (schema as { 'x-kubernetes-validations'?: CelRule[] })['x-kubernetes-validations'] ?? [];
}

/** True for a transition rule, which compares with the stored object (`oldSelf`). */
export function isTransitionRule(rule: string): boolean {
  return /\boldSelf\b/.test(rule);
}

type Program = (bindings: { self: CelInput }) => unknown;
const env = celEnv();
const programs = new Map<string, Program>();

/** Parses and plans `rule` once; throws when it is not valid CEL for this evaluator. */
export function compileRule(rule: string): Program {
  let program = programs.get(rule);
  if (!program) {
    program = plan(env, parse(rule)) as Program;
    programs.set(rule, program);
  }
  return program;
}

/**
 * Evaluates `rule` with `self` bound to `value` (typed by `schema`): `true` when it holds,
 * `false` when it fails, or why it could not be evaluated.
 */
export function evaluateRule(rule: string, value: unknown, schema: TSchema): boolean | string {
  let result: unknown;
  try {
    result = compileRule(rule)({ self: celValue(schema, value) });
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  if (isCelError(result)) return result.message;
  if (typeof result !== 'boolean') return `the rule gave ${typeof result}, not a bool`;
  return result;
}

/** `value` as CEL sees it: integers of the schema become `int` (bigint); the rest as is. */
export function celValue(schema: TSchema | undefined, value: unknown): CelInput {
  if (typeof value === 'number') {
    return schema?.[Kind] === 'Integer' && Number.isInteger(value) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) {
    return value.map((item) => celValue(schema?.items as TSchema | undefined, item));
  }
  if (typeof value === 'object' && value !== null) {
    const properties = (schema?.properties ?? {}) as Record<string, TSchema>;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, celValue(properties[k], v)]),
    ) as CelInput;
  }
  return value as CelInput;
}
