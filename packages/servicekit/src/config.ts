/**
 * Config from environment variables, parsed once at the edge of a service: one TypeBox
 * schema whose property names are the variable names, defaults inside the schema, empty
 * strings treated as unset, numbers and booleans converted, the result frozen.
 */
import { Type, type Static, type TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { HttpTimeouts } from './http.js';

/** A bad or missing variable. `variable` names it; the message never echoes its value. */
export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, problem: string) {
    super(`invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

/**
 * Reads the variables named by `schema`'s properties from `env` and returns them typed,
 * defaulted and frozen. Throws a {@link ConfigError} naming the first bad variable.
 *
 * @example
 * const Env = Type.Object({ API_PORT: Type.Integer({ default: 8080 }) });
 * const env = parseEnv(Env, process.env); // env.API_PORT: number
 */
export function parseEnv<S extends TObject>(
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
): Readonly<Static<S>> {
  const raw: Record<string, string> = {};
  for (const name of Object.keys(schema.properties)) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  const value = Value.Convert(schema, Value.Default(schema, raw));
  const first = Value.Errors(schema, value).First();
  if (first) {
    const variable = first.path.split('/')[1] ?? '(unknown)';
    const problem =
      raw[variable] === undefined ? 'is required but not set' : `is not valid: ${first.message}`;
    throw new ConfigError(variable, problem);
  }
  return Object.freeze(value as Static<S>);
}

/**
 * Runs `load` and, on a {@link ConfigError}, prints it to stderr and exits with status 1:
 * what a service's `main.ts` does with its `loadConfig`.
 */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

/** An integer variable: its default, its minimum (0 unless given) and what it means. */
export function envInteger(def: number, minimum = 0, description?: string) {
  return Type.Integer({ default: def, minimum, description });
}

/** The names of `E`'s number-valued properties. */
type NumberKey<E> = { [K in keyof E]: E[K] extends number ? K : never }[keyof E] & string;

/** Throws a {@link ConfigError} on `name` unless its value is at least the value of `floor`. */
export function requireAtLeast<E extends object>(
  e: E,
  name: NumberKey<E>,
  floor: NumberKey<E>,
): void {
  if ((e[name] as number) < (e[floor] as number)) {
    throw new ConfigError(name, `must be at least ${floor}`);
  }
}

/**
 * Throws a {@link ConfigError} on `opsPort` when it names the same port as `port`: the ops
 * listener (metrics, probes) stays off the public port. 0 (a free port each) is allowed.
 */
export function requireOpsPortApart<E extends object>(
  e: E,
  opsPort: NumberKey<E>,
  port: NumberKey<E>,
): void {
  if (e[opsPort] !== 0 && e[opsPort] === e[port]) {
    throw new ConfigError(opsPort, `must differ from ${port} (ops stays off the public port)`);
  }
}

/**
 * A service's slow-client limits from its two variables, frozen; throws a
 * {@link ConfigError} on `request` when it is shorter than `headers`.
 */
export function httpTimeoutsFrom<E extends object>(
  e: E,
  headers: NumberKey<E>,
  request: NumberKey<E>,
): Readonly<HttpTimeouts> {
  requireAtLeast(e, request, headers);
  return Object.freeze({
    headersTimeoutMs: e[headers] as number,
    requestTimeoutMs: e[request] as number,
  });
}

/**
 * `parse(value)`, with whatever it throws turned into a {@link ConfigError} on `name` whose
 * problem is the error's message (after `prefix`, when given). For the variables a schema
 * holds as strings and a parser checks (key sets, proxy lists).
 */
export function parseVariable<T>(
  name: string,
  value: string,
  parse: (value: string) => T,
  prefix = '',
): T {
  try {
    return parse(value);
  } catch (err) {
    throw new ConfigError(name, prefix + (err as Error).message);
  }
}
