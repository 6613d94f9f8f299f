/**
 * The optional Ingress of `spec.ingress`: one host, TLS from a Secret, REST paths to the api's
 * public port and the WebSocket path to the gateway's, with a body size limit that lets an
 * attachment upload part through. Nothing else is routed (the ops listeners stay inside the
 * cluster).
 */
import { MAX_ATTACHMENT_PART_BYTES } from '@gossip/protocol';
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { ClusterContext } from './context.js';
import { labelsFor, namesFor, publicPorts } from './naming.js';

/**
 * The paths clients use, per `@gossip/protocol` (`REST_PREFIX`, `WS_PATH`), spelt out so the
 * routes read plainly; a unit test checks they agree.
 */
export const ingressPaths = { api: '/v1', gateway: '/ws' } as const;

/**
 * ingress-nginx refuses request bodies above 1 MiB by default (413), and one attachment
 * upload part may be `MAX_ATTACHMENT_PART_BYTES`. Other controllers ignore the annotation; an
 * annotation of the same name in `spec.ingress.annotations` wins.
 */
export const ingressBodySizeAnnotation = {
  'nginx.ingress.kubernetes.io/proxy-body-size': `${Math.ceil(MAX_ATTACHMENT_PART_BYTES / 1024 ** 2)}m`,
} as const;

export interface GossipIngressProps {
  /** The cluster; `spec.ingress` must be set. */
  readonly cluster: ClusterContext;
}

export class GossipIngress extends Construct {
  constructor(scope: Construct, id: string, props: GossipIngressProps) {
    super(scope, id);
    const { cluster } = props;
    const spec = cluster.spec.ingress;
    if (!spec) throw new Error('GossipIngress needs spec.ingress (leave it out otherwise)');
    const names = namesFor(cluster.name);
    const { 'app.kubernetes.io/component': _c, ...labels } = labelsFor(cluster.name, 'gateway');
    const backend = (c: 'api' | 'gateway') => ({
      path: ingressPaths[c],
      pathType: 'Prefix',
      backend: { service: { name: names.app(c), port: { number: publicPorts[c] } } },
    });
    new ApiObject(this, 'Ingress', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: {
        name: names.ingress,
        labels,
        annotations: { ...ingressBodySizeAnnotation, ...spec.annotations },
      },
      spec: {
        ...(spec.className ? { ingressClassName: spec.className } : {}),
        ...(spec.tlsSecretName
          ? { tls: [{ hosts: [spec.host], secretName: spec.tlsSecretName }] }
          : {}),
        rules: [{ host: spec.host, http: { paths: [backend('api'), backend('gateway')] } }],
      },
    });
  }
}
