/**
 * Message ids: a random (version 4) UUID in lowercase canonical form, 122 random bits,
 * chosen by the sending client so that resends of the same message carry the same id
 * and the server stores it once. `crypto.randomUUID()` makes one in Node and browsers.
 */

/** Pattern of a message (and event) id: lowercase UUID version 4. */
export const MESSAGE_ID_PATTERN =
  '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$';

const messageIdRe = new RegExp(MESSAGE_ID_PATTERN);

/** A fresh message id (a random UUID). */
export function newMessageId(): string {
  return globalThis.crypto.randomUUID();
}

/** Whether `value` is a well-formed message id. */
export function isMessageId(value: unknown): value is string {
  return typeof value === 'string' && messageIdRe.test(value);
}
