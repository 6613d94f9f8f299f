/**
 * The per-connection frame limit is @gossip/limits' token bucket (`burst` tokens, refilled
 * at `perSecond`; one token per frame), the same one the SDK paces itself with.
 */
export { TokenBucket } from '@gossip/limits';
