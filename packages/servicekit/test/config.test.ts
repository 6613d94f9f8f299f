import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { ConfigError, parseEnv } from '../src/index.js';

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
