/**
 * Validators for what the gateway and the engine take off the bus: a RabbitMQ message body
 * becomes a typed message or a reason it was refused, never an exception. A consumer
 * counts the refusal (by reason, never by a value from the message) and drops it.
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import {
  ContactEventMessage,
  ENGINE_MESSAGES,
  GATEWAY_MESSAGES,
  type EngineMessage,
  type GatewayMessage,
} from './bus.js';
import { RevocationMessage } from './sessions.js';

/**
 * Why a bus message was refused: not UTF-8 JSON, no string `op`, an `op` this consumer
 * does not know, or fields that do not match the op's schema. These are metric labels.
 */
export const BUS_INVALID_REASONS = ['json', 'no_op', 'unknown_op', 'schema'] as const;
export type BusInvalidReason = (typeof BUS_INVALID_REASONS)[number];

export type BusParseResult<M> =
  { ok: true; message: M } | { ok: false; reason: BusInvalidReason; detail: string };

type Checkers = Record<string, TypeCheck<TSchema>>;

const decoder = new TextDecoder('utf-8', { fatal: true });
let engineCheckers: Checkers | undefined;
let gatewayCheckers: Checkers | undefined;
let contactEventChecker: TypeCheck<typeof ContactEventMessage> | undefined;
let revocationChecker: TypeCheck<typeof RevocationMessage> | undefined;

function compile(schemas: Record<string, TSchema>): Checkers {
  const out: Checkers = {};
  for (const [op, schema] of Object.entries(schemas)) out[op] = TypeCompiler.Compile(schema);
  return out;
}

function parseBus<M>(body: Uint8Array | string, checkers: Checkers): BusParseResult<M> {
  let value: unknown;
  try {
    value = JSON.parse(typeof body === 'string' ? body : decoder.decode(body));
  } catch {
    return { ok: false, reason: 'json', detail: 'not UTF-8 JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'no_op', detail: 'not an object' };
  }
  const op = (value as { op?: unknown }).op;
  if (typeof op !== 'string') return { ok: false, reason: 'no_op', detail: 'no string op' };
  const checker = Object.hasOwn(checkers, op) ? checkers[op] : undefined;
  if (!checker) return { ok: false, reason: 'unknown_op', detail: 'unknown op' };
  if (!checker.Check(value)) {
    const first = checker.Errors(value).First();
    // The path names a field of the schema; the value itself is never echoed.
    return { ok: false, reason: 'schema', detail: `${op} at ${first?.path || '/'}` };
  }
  return { ok: true, message: value as M };
}

/** Validates a message on the engines' queue (published by a gateway). */
export function parseEngineMessage(body: Uint8Array | string): BusParseResult<EngineMessage> {
  engineCheckers ??= compile(ENGINE_MESSAGES);
  return parseBus<EngineMessage>(body, engineCheckers);
}

/** Validates a message on a gateway's queue (published by an engine). */
export function parseGatewayMessage(body: Uint8Array | string): BusParseResult<GatewayMessage> {
  gatewayCheckers ??= compile(GATEWAY_MESSAGES);
  return parseBus<GatewayMessage>(body, gatewayCheckers);
}

/** A message of one of the api's Redis channels: one schema, no `op`. */
function parseChannel<T extends TSchema, M>(
  body: Uint8Array | string,
  checker: TypeCheck<T>,
  what: string,
): BusParseResult<M> {
  let value: unknown;
  try {
    value = JSON.parse(typeof body === 'string' ? body : decoder.decode(body));
  } catch {
    return { ok: false, reason: 'json', detail: 'not UTF-8 JSON' };
  }
  if (!checker.Check(value)) {
    const first = checker.Errors(value).First();
    return { ok: false, reason: 'schema', detail: `${what} at ${first?.path || '/'}` };
  }
  return { ok: true, message: value as M };
}

/** Validates a contact event from the api's Redis channel (`{ to, frame }`). */
export function parseContactEvent(body: Uint8Array | string): BusParseResult<ContactEventMessage> {
  contactEventChecker ??= TypeCompiler.Compile(ContactEventMessage);
  return parseChannel(body, contactEventChecker, 'contact event');
}

/** Validates a revocation from the api's sessions channel (see `REVOCATIONS_CHANNEL`). */
export function parseRevocation(body: Uint8Array | string): BusParseResult<RevocationMessage> {
  revocationChecker ??= TypeCompiler.Compile(RevocationMessage);
  return parseChannel(body, revocationChecker, 'revocation');
}
