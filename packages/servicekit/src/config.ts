/**
 * Config from environment variables, parsed once at the edge of a service: one TypeBox
 * schema whose property names are the variable names, defaults inside the schema, empty
 * strings treated as unset, numbers and booleans converted, the result frozen.
 */
import type { Static, TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

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
