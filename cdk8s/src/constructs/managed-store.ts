/**
 * A managed backing service as a StatefulSet: stable pod names through a headless Service, a
 * client Service, one PVC per pod from a volume claim template, optional config files, and the
 * same locked-down pod security as the Gossip services.
 *
 * It uses the L1 `k8s.KubeStatefulSet` from cdk8s-plus-27 because cdk8s-plus's StatefulSet has
 * no volume claim templates nor PVC retention policy.
 */
import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import type { BackingServiceName, ManagedSpec } from '../api/v1alpha1.js';
import { toKubeResources } from './kube-helpers.js';
import type { ClusterContext } from './context.js';
import {
  configHash,
  configHashAnnotation,
  generatedSecretNames,
  labelsFor,
  namesFor,
  selectorFor,
} from './naming.js';

const k8s = kplus.k8s;

/** uid/gid of the official rabbitmq, mongo and redis images' service user. */
export const storeUser = 999;

export interface ManagedStoreProps {
  /** The cluster this store belongs to. */
  readonly cluster: ClusterContext;
  /** Which backing service; fixes names and labels. */
  readonly service: BackingServiceName;
  /** The defaulted `spec.<service>.managed`. */
  readonly spec: ManagedSpec;
  /** The container image (the spec's `image` wins over this). */
  readonly image: string;
  /** Ports clients use; also on the client Service. */
  readonly clientPorts: readonly { readonly name: string; readonly port: number }[];
  /**
   * Ports only peers use (clustering); on the headless Service only.
   * @default []
   */
  readonly peerPorts?: readonly { readonly name: string; readonly port: number }[];
  /** Where the data volume is mounted. */
  readonly dataPath: string;
  /** Container environment (Secret refs only: never a literal credential). */
  readonly env: readonly kplus.k8s.EnvVar[];
  /**
   * Container command; the image's entrypoint when unset.
   * @default undefined
   */
  readonly command?: readonly string[];
  /**
   * Config files placed in a ConfigMap and mounted at `configPath`.
   * @default none
   */
  readonly configFiles?: Readonly<Record<string, string>>;
  /**
   * Mount path of `configFiles` (each file via subPath, so the image's other files stay).
   * @default '/config'
   */
  readonly configPath?: string;
  /**
   * Extra writable scratch directories besides /tmp (the root filesystem is read-only).
   * @default []
   */
  readonly scratchPaths?: readonly string[];
  readonly livenessProbe: kplus.k8s.Probe;
  readonly readinessProbe: kplus.k8s.Probe;
  /**
   * Extra labels the client Service selects on (Redis: only the primary, pod 0).
   * @default {}
   */
  readonly clientSelector?: Readonly<Record<string, string>>;
}

export class ManagedStore extends Construct {
  constructor(scope: Construct, id: string, props: ManagedStoreProps) {
    super(scope, id);
    const { cluster, service, spec } = props;
    const names = namesFor(cluster.name);
    const labels = labelsFor(cluster.name, service);
    const selector = selectorFor(cluster.name, service);
    const files = props.configFiles ?? {};
    const configPath = props.configPath ?? '/config';
    const allPorts = [...props.clientPorts, ...(props.peerPorts ?? [])];
    const toServicePort = (p: { name: string; port: number }) => ({
      name: p.name,
      port: p.port,
      targetPort: k8s.IntOrString.fromNumber(p.port),
    });

    const hasConfig = Object.keys(files).length > 0;
    if (hasConfig) {
      new k8s.KubeConfigMap(this, 'Config', {
        metadata: { name: names.storeConfig(service), labels },
        data: { ...files },
      });
    }
    new k8s.KubeService(this, 'Headless', {
      metadata: { name: names.headless(service), labels },
      spec: {
        clusterIp: 'None',
        // Peers must resolve each other before they are ready, or a cluster never forms.
        publishNotReadyAddresses: true,
        selector,
        ports: allPorts.map(toServicePort),
      },
    });
    new k8s.KubeService(this, 'Client', {
      metadata: { name: names.store(service), labels },
      spec: {
        selector: { ...selector, ...props.clientSelector },
        ports: props.clientPorts.map(toServicePort),
      },
    });

    const scratch = ['/tmp', ...(props.scratchPaths ?? [])].map((path, i) => ({
      path,
      name: `scratch-${i}`,
    }));
    // Every Secret the container reads, so a changed one rolls the pods.
    const secretNames = [
      generatedSecretNames(cluster.name)[service],
      ...props.env.flatMap((e) => e.valueFrom?.secretKeyRef?.name ?? []),
    ];
    new k8s.KubeStatefulSet(this, 'StatefulSet', {
      metadata: { name: names.store(service), labels },
      spec: {
        serviceName: names.headless(service),
        replicas: spec.replicas,
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: selector },
        persistentVolumeClaimRetentionPolicy: {
          // The StatefulSet controller then owns the PVCs and garbage collection removes them
          // with it; Retain (the default) leaves them without an owner, so data survives.
          whenDeleted: cluster.spec.dataRetentionPolicy,
          whenScaled: 'Retain',
        },
        template: {
          metadata: {
            labels,
            annotations: {
              [configHashAnnotation]: configHash(files, secretNames, cluster.secretVersions),
            },
          },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: storeUser,
              runAsGroup: storeUser,
              fsGroup: storeUser,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: service,
                image: spec.image ?? props.image,
                command: props.command ? [...props.command] : undefined,
                ports: allPorts.map((p) => ({ name: p.name, containerPort: p.port })),
                env: [...props.env],
                resources: toKubeResources(spec.resources),
                livenessProbe: props.livenessProbe,
                readinessProbe: props.readinessProbe,
                securityContext: {
                  allowPrivilegeEscalation: false,
                  privileged: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [
                  { name: 'data', mountPath: props.dataPath },
                  ...scratch.map((s) => ({ name: s.name, mountPath: s.path })),
                  ...Object.keys(files).map((file) => ({
                    name: 'config',
                    mountPath: `${configPath}/${file}`,
                    subPath: file,
                    readOnly: true,
                  })),
                ],
              },
            ],
            volumes: [
              ...scratch.map((s) => ({ name: s.name, emptyDir: {} })),
              ...(hasConfig
                ? [{ name: 'config', configMap: { name: names.storeConfig(service) } }]
                : []),
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data', labels },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: spec.storage.storageClassName,
              resources: { requests: { storage: k8s.Quantity.fromString(spec.storage.size) } },
            },
          },
        ],
      },
    });
  }
}
