/**
 * `spec.ingress`: an optional Ingress that puts TLS in front of the api and the gateway on one
 * host (`/v1` to the api, `/ws` to the gateway). Present means wanted; the ops ports are never
 * routed.
 */
import { Type } from '@sinclair/typebox';
import { LabelMap } from './network-policy.js';
import { dnsSubdomainPattern } from './schema-helpers.js';

/** `spec.ingress`. */
export const IngressSpec = Type.Object(
  {
    host: Type.String({
      pattern: dnsSubdomainPattern,
      maxLength: 253,
      description: 'Public host name clients use, e.g. chat.example.com.',
    }),
    tlsSecretName: Type.Optional(
      Type.String({
        pattern: dnsSubdomainPattern,
        maxLength: 253,
        description:
          'kubernetes.io/tls Secret with the certificate for host (e.g. made by cert-manager). Without it the Ingress serves plain HTTP: only for tests.',
      }),
    ),
    className: Type.Optional(
      Type.String({ minLength: 1, maxLength: 253, description: 'ingressClassName.' }),
    ),
    annotations: Type.Optional(
      LabelMap('Annotations for the Ingress controller (timeouts, cert-manager issuer, ...).'),
    ),
  },
  { description: 'An Ingress with TLS in front of the api (/v1) and the gateway (/ws).' },
);
