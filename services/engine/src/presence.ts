/** Reads the presence hashes the gateways write (see services/gateway/src/presence.ts). */
import type { Redis } from 'ioredis';
import { presenceKey as presenceKeyOf } from '@gossip/protocol';

/** The full presence key of `username` under the deployment's Redis prefix. */
function presenceKey(prefix: string, username: string): string {
  return prefix + presenceKeyOf(username);
}

/** The gateway instances holding a live connection of `username` right now. */
export async function lookupPresence(
  redis: Redis,
  prefix: string,
  username: string,
  now = Date.now(),
): Promise<string[]> {
  const fields = await redis.hgetall(presenceKey(prefix, username));
  return Object.entries(fields)
    .filter(([, until]) => Number(until) > now)
    .map(([instance]) => instance);
}
