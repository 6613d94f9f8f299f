/**
 * Compiled validators for WebSocket frames. `parseClientFrame` is what a gateway runs on
 * every incoming text; `parseServerFrame` is what the SDK runs. Both return a typed frame
 * or a coded error ready to send back as an `error` frame; neither throws.
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ERRORS, type ErrorCode } from './errors.js';
import {
  CLIENT_FRAMES,
  SERVER_FRAMES,
  type ClientFrame,
  type ErrorFrame,
  type ServerFrame,
} from './frames.js';
import { MAX_FRAME_BYTES } from './limits.js';

/** Why a frame was refused: the fields of an `error` frame. */
export interface FrameError {
  code: Extract<ErrorCode, 'frame_too_large' | 'bad_json' | 'bad_frame' | 'unknown_type'>;
  message: string;
  /** The frame's `id` (or first ack id) when one could be read, so the sender can match. */
  ref?: string;
}

export type ParseResult<F> = { ok: true; frame: F } | { ok: false; error: FrameError };

/** Raw frame data as `ws` or a browser hands it over. */
export type RawFrame = string | Uint8Array | ArrayBuffer;

export interface ParseOptions {
  /** Largest frame in bytes. @default MAX_FRAME_BYTES */
  maxBytes?: number;
}

type Checkers = Record<string, TypeCheck<TSchema>>;

function compileAll(schemas: Record<string, TSchema>): Checkers {
  const out: Checkers = {};
  for (const [type, schema] of Object.entries(schemas)) out[type] = TypeCompiler.Compile(schema);
  return out;
}

// Compiled lazily: a browser that only parses server frames never compiles client ones.
let clientCheckers: Checkers | undefined;
let serverCheckers: Checkers | undefined;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function fail(code: FrameError['code'], message: string, ref?: string): ParseResult<never> {
  const error: FrameError = { code, message };
  if (ref !== undefined) error.ref = ref;
  return { ok: false, error };
}

function utf8Length(text: string): number {
  // Each UTF-16 unit is 1 to 3 UTF-8 bytes: only count exactly near the limit.
  return encoder.encode(text).byteLength;
}

function refOf(value: Record<string, unknown>): string | undefined {
  const id = value.id;
  if (typeof id === 'string' && id.length <= 64) return id;
  const ids = value.ids;
  if (Array.isArray(ids) && typeof ids[0] === 'string' && ids[0].length <= 64) return ids[0];
  return undefined;
}

function parseWith<F>(raw: RawFrame, checkers: Checkers, maxBytes: number): ParseResult<F> {
  let text: string;
  if (typeof raw === 'string') {
    if (raw.length > maxBytes || (raw.length * 3 > maxBytes && utf8Length(raw) > maxBytes)) {
      return fail('frame_too_large', `${ERRORS.frame_too_large.message} (max ${maxBytes} bytes)`);
    }
    text = raw;
  } else {
    const bytes = raw instanceof Uint8Array ? raw : new Uint8Array(raw);
    if (bytes.byteLength > maxBytes) {
      return fail('frame_too_large', `${ERRORS.frame_too_large.message} (max ${maxBytes} bytes)`);
    }
    try {
      text = decoder.decode(bytes);
    } catch {
      return fail('bad_json', 'The frame is not valid UTF-8.');
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('bad_json', 'The frame is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('bad_frame', 'A frame is a JSON object with a `type`.');
  }
  const obj = value as Record<string, unknown>;
  const ref = refOf(obj);
  if (typeof obj.type !== 'string') return fail('bad_frame', 'A frame needs a string `type`.', ref);
  const checker = Object.hasOwn(checkers, obj.type) ? checkers[obj.type] : undefined;
  if (!checker) {
    return fail(
      'unknown_type',
      `Unknown frame type ${JSON.stringify(obj.type.slice(0, 32))}.`,
      ref,
    );
  }
  if (!checker.Check(value)) {
    const first = checker.Errors(value).First();
    const where = first ? `${first.path || '/'}: ${first.message}` : 'does not match its schema';
    return fail('bad_frame', `Bad ${obj.type} frame at ${where}.`, ref);
  }
  return { ok: true, frame: value as F };
}

/** Validates a frame sent by a client (strict: unknown fields are refused). */
export function parseClientFrame(raw: RawFrame, opts: ParseOptions = {}): ParseResult<ClientFrame> {
  clientCheckers ??= compileAll(CLIENT_FRAMES);
  return parseWith<ClientFrame>(raw, clientCheckers, opts.maxBytes ?? MAX_FRAME_BYTES);
}

/** Validates a frame sent by a server (lenient: unknown extra fields are allowed). */
export function parseServerFrame(raw: RawFrame, opts: ParseOptions = {}): ParseResult<ServerFrame> {
  serverCheckers ??= compileAll(SERVER_FRAMES);
  // A server frame may carry a full body plus metadata: allow a little more than a client.
  return parseWith<ServerFrame>(raw, serverCheckers, opts.maxBytes ?? MAX_FRAME_BYTES * 2);
}

/** How far into a frame {@link peekFrameRef} looks. */
const PEEK_BYTES = 160;
const PEEK_REF = /"ids?"\s*:\s*\[?\s*"([0-9a-f-]{36})"/;

/**
 * The frame's `id` (or first ack id) when it appears in its first bytes, read without
 * parsing the frame: for answering a frame that is refused before it is parsed (the rate
 * limit), at a cost that does not grow with the frame. Clients built on packages/client
 * write `type` and `id` first, so their sends always carry a usable ref.
 */
export function peekFrameRef(raw: RawFrame): string | undefined {
  let head: string;
  if (typeof raw === 'string') {
    head = raw.slice(0, PEEK_BYTES);
  } else {
    // Byte by byte as Latin-1: the id is ASCII, and nothing here may fail on bad UTF-8.
    const bytes = raw instanceof Uint8Array ? raw : new Uint8Array(raw);
    head = String.fromCharCode(...bytes.subarray(0, PEEK_BYTES));
  }
  return PEEK_REF.exec(head)?.[1];
}

/** The `error` frame to send back for a refused frame. */
export function errorFrame(code: ErrorCode, message?: string, ref?: string): ErrorFrame {
  const frame: ErrorFrame = { type: 'error', code, message: message ?? ERRORS[code].message };
  if (ref !== undefined) frame.ref = ref;
  return frame;
}

/** Serialises a frame (the inverse of the parsers). */
export function encodeFrame(frame: ClientFrame | ServerFrame): string {
  return JSON.stringify(frame);
}
