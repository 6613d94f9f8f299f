/**
 * `spec.trustProxy`: which proxies in front of the api and the gateways are believed when
 * they name the client in `X-Forwarded-For`. The client address feeds the per-address login
 * throttle and the gateway's connection caps, so trusting too much lets a client pick its own
 * address. Becomes `API_TRUST_PROXY` and `GATEWAY_TRUST_PROXY` (see @gossip/servicekit
 * `parseTrustProxy`).
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { withRules, type CrossFieldRule } from './rules.js';
import { Defaulted } from './schema-helpers.js';

/** At most one of the two ways of saying which proxies are trusted. */
export const trustProxyRules: readonly CrossFieldRule[] = [
  {
    rule: '!has(self.hops) || !has(self.cidrs) || self.hops == 0 || size(self.cidrs) == 0',
    message: 'trustProxy: set hops or cidrs, not both',
  },
];

export const TrustProxySpec = Type.Object(
  {
    hops: Defaulted(
      Type.Integer({
        minimum: 0,
        maximum: 32,
        description:
          'Proxies in front of the api and gateways (0: none, use the peer address). Also ' +
          'believes a client that reaches a pod directly; prefer cidrs.',
      }),
      0,
    ),
    cidrs: Defaulted(
      Type.Array(
        Type.String({ minLength: 2, maxLength: 49, pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$' }),
        {
          maxItems: 64,
          description: "The proxies' addresses or CIDR ranges (e.g. the ingress pods' range).",
        },
      ),
      [],
    ),
  },
  {
    description: 'Proxies trusted to name the client in X-Forwarded-For.',
    ...withRules(trustProxyRules),
  },
);
export type TrustProxySpec = Static<typeof TrustProxySpec>;

/** The `API_TRUST_PROXY` / `GATEWAY_TRUST_PROXY` value for a defaulted `spec.trustProxy`. */
export function trustProxyEnv(spec: { hops: number; cidrs: readonly string[] }): string {
  if (spec.cidrs.length > 0) return spec.cidrs.join(',');
  return String(spec.hops);
}
