/**
 * Request validation straight from the protocol's TypeBox schemas, compiled by TypeBox
 * (not Ajv): bodies are checked as sent (no type coercion, no stripping of unknown
 * fields, which the schemas refuse), query strings and path parameters are converted
 * from strings first.
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler } from 'fastify';

export const typeboxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  const fromStrings = httpPart === 'querystring' || httpPart === 'params';
  return (data: unknown) => {
    const value = fromStrings
      ? Value.Convert(schema, Value.Default(schema, Value.Clone(data)))
      : data;
    if (check.Check(value)) return { value };
    const first = check.Errors(value).First();
    const where = first ? `${first.path || '/'}: ${first.message}` : 'invalid';
    return { error: new Error(`${httpPart ?? 'request'} ${where}`) };
  };
};
