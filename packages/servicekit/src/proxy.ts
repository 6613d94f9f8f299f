/**
 * Which proxies are trusted to say who the client is (`X-Forwarded-For`), shared by the
 * api (fastify's `trustProxy`) and the gateway, so both derive the same client address.
 *
 * A setting is a hop count (that many proxies in front of the service, whatever their
 * addresses) or a list of proxy addresses and CIDR ranges. A list is the safer choice: a
 * hop count also trusts a client that reaches the service directly, while a list trusts
 * only the named peers. `true` (trust anyone) is refused: with it every client could put
 * any address in the header and dodge the per-address limits.
 */
import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

/** Hops (0: no proxy, use the socket's peer) or the trusted proxies' addresses and CIDRs. */
export type TrustProxy = number | readonly string[];

/** Whether the `i`th address from the socket inwards (`addr`) is a trusted proxy. */
export type TrustFunction = (addr: string, i: number) => boolean;

/**
 * Parses a trust setting: `0`/`false`/empty (none), a hop count such as `1`, or a
 * comma-separated list of IPs and CIDRs (`10.0.0.0/8,fd00::/8`). Throws an `Error` whose
 * message says what is wrong; config loaders wrap it in a `ConfigError`.
 */
export function parseTrustProxy(value: string): TrustProxy {
  const v = value.trim();
  if (v === '' || v === 'false') return 0;
  if (v === 'true') {
    throw new Error(
      'must be a hop count (e.g. 1) or a list of proxy CIDRs, not true (that trusts every client)',
    );
  }
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    if (hops > 32) throw new Error('must be at most 32 hops');
    return hops;
  }
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  try {
    proxyAddr.compile(list);
  } catch (err) {
    throw new Error(`is not a hop count or a list of IPs/CIDRs: ${(err as Error).message}`);
  }
  return Object.freeze(list);
}

/**
 * The trust function for a setting. Hop counts are evaluated here rather than handed to
 * fastify, which (since 5.x) treats a numeric `trustProxy` as trusting nothing.
 */
export function trustFunction(trust: TrustProxy): TrustFunction {
  if (typeof trust === 'number') return (_addr, i) => i < trust;
  if (trust.length === 0) return () => false;
  return proxyAddr.compile([...trust]);
}

/**
 * The client's address: the socket's peer, or, when that peer is a trusted proxy, the
 * nearest address in `X-Forwarded-For` that is not. What fastify's `request.ip` is for
 * the same trust function.
 */
export function clientAddress(req: IncomingMessage, trust: TrustFunction): string {
  const all = proxyAddr.all(req, trust);
  return all[all.length - 1] ?? req.socket.remoteAddress ?? '';
}
