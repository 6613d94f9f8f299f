import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type } from '@sinclair/typebox';
import {
  ConfigError,
  envInteger,
  httpTimeoutsFrom,
  parseEnv,
  parseVariable,
  requireAtLeast,
  requireOpsPortApart,
} from '../src/index.js';

const Env = Type.Object({
  X_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8080 }),
  X_URL: Type.String({ pattern: '^redis://' }),
  X_DEBUG: Type.Boolean({ default: false }),
  X_SECRET: Type.Optional(Type.String({ minLength: 8 })),
});

test('parseEnv applies defaults, converts types and freezes the result', () => {
  const env = parseEnv(Env, { X_URL: 'redis://h', X_DEBUG: 'true', OTHER: 'ignored' });
  assert.deepEqual({ ...env }, { X_PORT: 8080, X_URL: 'redis://h', X_DEBUG: true });
  assert.ok(Object.isFrozen(env));
  assert.equal(parseEnv(Env, { X_URL: 'redis://h', X_PORT: '9000' }).X_PORT, 9000);
});

test('parseEnv treats empty strings as unset', () => {
  assert.equal(parseEnv(Env, { X_URL: 'redis://h', X_PORT: '' }).X_PORT, 8080);
  assert.throws(() => parseEnv(Env, { X_URL: '' }), /X_URL is required but not set/);
});

test('parseEnv names the bad variable and does not echo its value', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ X_URL: 'redis://h', X_PORT: 'eighty' }, 'X_PORT'],
    [{ X_URL: 'redis://h', X_PORT: '70000' }, 'X_PORT'],
    [{ X_URL: 'http://h' }, 'X_URL'],
    [{ X_URL: 'redis://h', X_SECRET: 'hunter2' }, 'X_SECRET'],
    [{}, 'X_URL'],
  ];
  for (const [env, variable] of cases) {
    try {
      parseEnv(Env, env);
      assert.fail(`expected ${variable} to be refused`);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.variable, variable);
      assert.match(err.message, new RegExp(variable));
      assert.doesNotMatch(err.message, /hunter2/);
    }
  }
});

/** Runs `check` and returns the ConfigError it threw (failing when it threw none or another). */
function refusal(check: () => unknown): ConfigError {
  try {
    check();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('expected a ConfigError');
}

test('envInteger: default, minimum and description, converted by parseEnv', () => {
  const Ints = Type.Object({ X_N: envInteger(5, 2, 'how many') });
  assert.deepEqual(
    envInteger(5, 2, 'how many'),
    Type.Integer({ default: 5, minimum: 2, description: 'how many' }),
  );
  assert.equal(parseEnv(Ints, {}).X_N, 5);
  assert.equal(parseEnv(Ints, { X_N: '7' }).X_N, 7);
  assert.equal(refusal(() => parseEnv(Ints, { X_N: '1' })).variable, 'X_N');
  assert.equal(parseEnv(Type.Object({ X_Z: envInteger(3) }), { X_Z: '0' }).X_Z, 0);
});

test('requireAtLeast and httpTimeoutsFrom name the variable that is too small', () => {
  const e = { A_HEADERS_MS: 10, A_REQUEST_MS: 30 };
  requireAtLeast(e, 'A_REQUEST_MS', 'A_HEADERS_MS');
  const t = httpTimeoutsFrom(e, 'A_HEADERS_MS', 'A_REQUEST_MS');
  assert.deepEqual(t, { headersTimeoutMs: 10, requestTimeoutMs: 30 });
  assert.ok(Object.isFrozen(t));
  assert.deepEqual(httpTimeoutsFrom({ H: 5, R: 5 }, 'H', 'R'), {
    headersTimeoutMs: 5,
    requestTimeoutMs: 5,
  });
  const err = refusal(() => httpTimeoutsFrom({ H: 40, R: 30 }, 'H', 'R'));
  assert.equal(err.variable, 'R');
  assert.equal(err.message, 'invalid configuration: R must be at least H');
  assert.equal(refusal(() => requireAtLeast({ MAX: 1, MIN: 2 }, 'MAX', 'MIN')).variable, 'MAX');
});

test('requireOpsPortApart refuses the public port, allows 0 on both', () => {
  requireOpsPortApart({ OPS: 9090, PORT: 8080 }, 'OPS', 'PORT');
  requireOpsPortApart({ OPS: 0, PORT: 0 }, 'OPS', 'PORT');
  const err = refusal(() => requireOpsPortApart({ OPS: 8080, PORT: 8080 }, 'OPS', 'PORT'));
  assert.equal(err.variable, 'OPS');
  assert.match(err.message, /OPS must differ from PORT/);
});

test('parseVariable returns what the parser returns and names the variable when it throws', () => {
  assert.equal(
    parseVariable('X_N', '12', (v) => Number(v)),
    12,
  );
  const bad = (v: string): number => {
    throw new Error(`cannot read ${v.length} characters`);
  };
  const err = refusal(() => parseVariable('X_KEYS', 'hunter2', bad, 'is not valid: '));
  assert.equal(err.variable, 'X_KEYS');
  assert.equal(err.message, 'invalid configuration: X_KEYS is not valid: cannot read 7 characters');
  assert.equal(
    refusal(() => parseVariable('X_KEYS', 'x', bad)).message,
    'invalid configuration: X_KEYS cannot read 1 characters',
  );
});
