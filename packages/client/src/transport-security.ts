/**
 * Plain `http://` and `ws://` carry passwords, tokens and metadata in clear, so the SDK
 * only uses them towards this machine (loopback) unless the caller says otherwise. An
 * address is loopback when it is `localhost` (or a name under `.localhost`, RFC 6761),
 * in 127.0.0.0/8, or `::1`; nothing is resolved, so a name that merely points at
 * 127.0.0.1 does not count.
 */
import { InsecureTransportError } from './errors.js';

/** Whether the host part of a URL (as `URL.hostname` gives it) is a loopback address. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '[::1]' || h === '::1') return true;
  // IPv4-mapped IPv6 loopback, as WHATWG URL normalises it: [::ffff:7f00:1].
  const mapped = /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.exec(h);
  if (mapped) return true;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return v4 !== null && v4[1] === '127' && v4.slice(1).every((o) => Number(o) <= 255);
}

/**
 * Throws `InsecureTransportError` when `url` is plain `http:`/`ws:` to a host that is not
 * loopback, unless `allowInsecure`. `https:`/`wss:` always pass; other schemes are refused.
 */
export function checkTransportUrl(url: string, allowInsecure = false): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`not a URL: ${JSON.stringify(url)}`);
  }
  if (u.protocol === 'https:' || u.protocol === 'wss:') return;
  if (u.protocol !== 'http:' && u.protocol !== 'ws:') {
    throw new TypeError(`unsupported URL scheme ${u.protocol} in ${u.origin}`);
  }
  if (allowInsecure || isLoopbackHost(u.hostname)) return;
  throw new InsecureTransportError(`${u.protocol}//${u.host}`);
}
