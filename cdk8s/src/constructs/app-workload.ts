/**
 * One Gossip service (api, gateway or engine): ServiceAccount, ConfigMap, Deployment and
 * Service, locked down by default. The per-service constructs only decide config and env.
 */
import { ApiObject, Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { Resources } from '../api/schema-helpers.js';
import type { ClusterContext, SecretKeySelector } from './context.js';
import { appImage } from './context.js';
import { toKubeResources } from './kube-helpers.js';
import type { ServiceEnv } from './service-env.js';
import type { AppComponent } from './naming.js';
import {
  configHash,
  configHashAnnotation,
  httpPortName,
  labelsFor,
  namesFor,
  opsPortName,
  ports,
  selectorFor,
} from './naming.js';

/** The non-root user the Gossip images run as. */
export const appUser = 10001;

export interface AppWorkloadProps<C extends AppComponent = AppComponent> {
  /** The cluster this workload belongs to. */
  readonly cluster: ClusterContext;
  /** Which service; fixes the name, labels, port and image. */
  readonly component: C;
  /** Pod count. */
  readonly replicas: number;
  /** Container requests and limits. */
  readonly resources: Resources;
  /**
   * Non-secret environment, stored in the component's ConfigMap and read with `envFrom`.
   * Typed from the component's config schema: only variables it reads.
   */
  readonly config: ServiceEnv<C, string>;
  /**
   * Secret environment: variable name to Secret key. The Secrets are only referenced.
   * @default {}
   */
  readonly secretEnv?: ServiceEnv<C, SecretKeySelector>;
  /**
   * Environment from the downward API, e.g. the pod name.
   * @default {}
   */
  readonly fieldEnv?: ServiceEnv<C, kplus.EnvFieldPaths>;
  /**
   * Port of the ops listener (probes, `/metrics`) when it is not the public port; it gets the
   * container and Service port name `ops`.
   * @default the component's only port (`ports[component]`)
   */
  readonly opsPort?: number;
  /**
   * Time a pod gets to drain after SIGTERM.
   * @default Duration.seconds(30)
   */
  readonly terminationGracePeriod?: Duration;
  /**
   * Command run in the container when the pod is deleted, before the kubelet sends SIGTERM
   * (it counts against `terminationGracePeriod`).
   * @default none
   */
  readonly preStopCommand?: readonly string[];
}

export class AppWorkload<C extends AppComponent = AppComponent> extends Construct {
  readonly deployment: kplus.Deployment;
  readonly service: kplus.Service;
  readonly configMap: kplus.ConfigMap;

  constructor(scope: Construct, id: string, props: AppWorkloadProps<C>) {
    super(scope, id);
    const { cluster, component } = props;
    const name = namesFor(cluster.name).app(component);
    const labels = labelsFor(cluster.name, component);
    const port = ports[component];
    const opsPort = props.opsPort ?? port;
    const extraPorts = opsPort === port ? [] : [{ name: opsPortName, number: opsPort }];
    const config = defined<string>(props.config);
    const secretEnv = defined<SecretKeySelector>(props.secretEnv ?? {});

    const serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name, labels },
      automountToken: false,
    });
    this.configMap = new kplus.ConfigMap(this, 'ConfigMap', {
      metadata: { name, labels },
      data: config,
    });

    const secretNames = Object.values(secretEnv).map((ref) => ref.name);
    const hash = configHash(config, secretNames, cluster.secretVersions);
    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name, labels },
      replicas: props.replicas,
      select: false,
      podMetadata: { labels, annotations: { [configHashAnnotation]: hash } },
      serviceAccount,
      automountServiceAccountToken: false,
      terminationGracePeriod: props.terminationGracePeriod ?? Duration.seconds(30),
      securityContext: { ensureNonRoot: true, user: appUser, group: appUser },
    });
    this.deployment.select(
      kplus.LabelSelector.of({ labels: selectorFor(cluster.name, component) }),
    );

    const container = this.deployment.addContainer({
      name: component,
      image: appImage(cluster, component),
      imagePullPolicy: cluster.spec.image.pullPolicy as kplus.ImagePullPolicy,
      ports: [{ name: httpPortName, number: port }, ...extraPorts],
      envFrom: [kplus.Env.fromConfigMap(this.configMap)],
      liveness: kplus.Probe.fromHttpGet('/healthz', {
        port: opsPort,
        periodSeconds: Duration.seconds(10),
      }),
      readiness: kplus.Probe.fromHttpGet('/readyz', {
        port: opsPort,
        periodSeconds: Duration.seconds(5),
      }),
      startup: kplus.Probe.fromHttpGet('/healthz', { port: opsPort, failureThreshold: 30 }),
      ...(props.preStopCommand
        ? { lifecycle: { preStop: kplus.Handler.fromCommand([...props.preStopCommand]) } }
        : {}),
      securityContext: {
        ensureNonRoot: true,
        user: appUser,
        group: appUser,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        privileged: false,
      },
    });
    for (const [envName, ref] of Object.entries(secretEnv)) {
      const secret = kplus.Secret.fromSecretName(this, `Secret-${envName}`, ref.name);
      container.env.addVariable(envName, kplus.EnvValue.fromSecretValue({ secret, key: ref.key }));
    }
    for (const [envName, fieldPath] of Object.entries(
      defined<kplus.EnvFieldPaths>(props.fieldEnv ?? {}),
    )) {
      container.env.addVariable(envName, kplus.EnvValue.fromFieldRef(fieldPath));
    }
    // A read-only root filesystem still needs a scratch /tmp (Node writes temp files there).
    const tmp = kplus.Volume.fromEmptyDir(this, 'Tmp', 'tmp');
    container.mount('/tmp', tmp);

    // cdk8s-plus has no typed knob for these, so they go in as JSON patches.
    const spec = '/spec/template/spec';
    ApiObject.of(this.deployment).addJsonPatch(
      // Stops Kubernetes injecting <SERVICE>_PORT variables that would collide with API_PORT etc.
      JsonPatch.add(`${spec}/enableServiceLinks`, false),
      JsonPatch.add(`${spec}/securityContext/seccompProfile`, { type: 'RuntimeDefault' }),
      JsonPatch.replace(`${spec}/containers/0/resources`, toKubeResources(props.resources)),
      JsonPatch.add(`${spec}/containers/0/securityContext/capabilities`, { drop: ['ALL'] }),
      // cdk8s-plus labels pods with its construct path; a cdk8s upgrade or refactor would then
      // roll every pod. Our selector labels are enough.
      JsonPatch.remove('/spec/template/metadata/labels/cdk8s.io~1metadata.addr'),
    );

    this.service = new kplus.Service(this, 'Service', {
      metadata: { name, labels },
      ports: [
        { name: httpPortName, port, targetPort: port },
        ...extraPorts.map((p) => ({ name: p.name, port: p.number, targetPort: p.number })),
      ],
    });
    for (const [key, value] of Object.entries(selectorFor(cluster.name, component))) {
      this.service.selectLabel(key, value);
    }
  }
}

/** The entries of `env` that are set (its type allows every variable to be absent). */
function defined<V>(env: { readonly [name: string]: V | undefined }): Record<string, V> {
  const out: Record<string, V> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value;
  return out;
}
