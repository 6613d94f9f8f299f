/**
 * @gossip/limits: the token bucket, the backoff and the bounded caches every part of
 * Gossip uses, importable by the servers and by the browser SDK (no Node-only code).
 */
export { Backoff, backoffDelay, type BackoffOptions, type Jitter } from './backoff.js';
export { TokenBucket } from './token-bucket.js';
/**
 * Bounded caches and id sets are `lru-cache`'s: a size bound (`max`), least recently used
 * out first, and per-entry expiry (`ttl`), which the hand-written Maps each did one or two
 * of. Re-exported so every workspace gets it, in one version, from here.
 */
export { LRUCache } from 'lru-cache';
