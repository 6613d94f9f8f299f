/**
 * Stands in for `@sinclair/typebox/compiler` in the page's bundle (see vite.config.ts).
 * TypeBox's compiler builds its checkers with `new Function`, which a content security
 * policy without `'unsafe-eval'` forbids; this one answers the same `Check` and `Errors`
 * calls with TypeBox's interpreting `Value` functions, so the page's policy can forbid
 * eval. Frames are small and few, so the slower check does not matter here.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { Value, type ValueErrorIterator } from '@sinclair/typebox/value';

/** The part of TypeBox's `TypeCheck` that @gossip/protocol uses. */
export interface TypeCheck<T extends TSchema> {
  Check(value: unknown): value is Static<T>;
  Errors(value: unknown): ValueErrorIterator;
}

export const TypeCompiler = {
  Compile<T extends TSchema>(schema: T): TypeCheck<T> {
    return {
      Check: (value: unknown): value is Static<T> => Value.Check(schema, value),
      Errors: (value: unknown) => Value.Errors(schema, value),
    };
  },
};
