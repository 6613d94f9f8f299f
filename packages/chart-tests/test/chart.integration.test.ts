/**
 * The chart against the real tools and the real control plane: helm lint is clean, default and
 * full values render, the rendered objects pass a server-side dry run, the prometheus-operator
 * objects (whose CRDs this control plane lacks) are checked structurally, helm install creates
 * the CRD, RBAC and operator Deployment with exactly the permissions intended, and helm
 * uninstall removes them again (all but the CRD, which Helm never deletes).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testEnv, uniqueName } from '@gossip/testenv';
import { parse } from 'yaml';
import {
  chartDir,
  helm,
  kubectl,
  loadDashboards,
  renderChart,
  repoRoot,
  run,
  type KubeObject,
} from '../src/index.js';
// The chart cannot import the constructs, so this test holds its scrape ports to theirs.
import { separateOpsPort } from '../../../cdk8s/src/constructs/naming.js';

const fullValues = join(chartDir, 'ci/full-values.yaml');
const monitoringKinds = new Set(['ServiceMonitor', 'PodMonitor', 'PrometheusRule']);

type Container = {
  name: string;
  image: string;
  env: { name: string; value?: string }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext: Record<string, unknown>;
};
type PodSpec = {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  enableServiceLinks: boolean;
  containers: Container[];
};

function byKind(objects: KubeObject[], kind: string): KubeObject[] {
  return objects.filter((o) => o.kind === kind);
}
function one(objects: KubeObject[], kind: string): KubeObject {
  const found = byKind(objects, kind);
  assert.equal(found.length, 1, `expected one ${kind}, got ${found.length}`);
  return found[0] as KubeObject;
}
function podSpec(deploy: KubeObject): PodSpec {
  return (deploy.spec as { template: { spec: PodSpec } }).template.spec;
}
function env(c: Container, name: string): string | undefined {
  return c.env.find((e) => e.name === name)?.value;
}

describe('helm lint and template', () => {
  test('helm lint --strict is clean with default and with full values', () => {
    for (const args of [[], ['-f', fullValues]]) {
      const res = helm(['lint', '--strict', chartDir, ...args]);
      assert.match(res.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(res.stdout + res.stderr, /\[(WARNING|ERROR)\]/);
    }
  });

  test('default values render the operator, its namespaced RBAC and Service, dashboards, and no monitors', () => {
    const { objects } = renderChart(['-n', 'gossip-system']);
    const kinds = objects.map((o) => o.kind).sort();
    assert.deepEqual(kinds, [
      'ConfigMap',
      'ConfigMap',
      'ConfigMap',
      'ConfigMap',
      'Deployment',
      'Lease',
      'Role',
      'Role',
      'RoleBinding',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ]);
    // Nothing cluster-scoped: both Roles live in the release namespace.
    assert.deepEqual(
      byKind(objects, 'Role').map((r) => r.metadata.namespace),
      ['gossip-system', 'gossip-system'],
    );
    const deploy = one(objects, 'Deployment');
    assert.equal((deploy.spec as { replicas: number }).replicas, 1);
    const pod = podSpec(deploy);
    const c = pod.containers[0] as Container;
    assert.equal(c.image, 'ghcr.io/gossip/operator:0.1.0');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 8080, protocol: 'TCP' }]);
    assert.equal(env(c, 'OPERATOR_METRICS_PORT'), '8080');
    assert.equal(env(c, 'OPERATOR_LEADER_ELECTION'), 'true');
    assert.equal(env(c, 'OPERATOR_WATCH_NAMESPACE'), 'gossip-system');
    assert.ok(
      c.resources.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory,
    );
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.enableServiceLinks, false);
    const svc = one(objects, 'Service');
    const svcPorts = (svc.spec as { ports: { name: string; targetPort: string }[] }).ports;
    assert.deepEqual(
      svcPorts.map((p) => [p.name, p.targetPort]),
      [['metrics', 'metrics']],
    );
  });

  test('dashboards ship as ConfigMaps labelled for the Grafana sidecar, content unchanged', () => {
    const { objects } = renderChart([
      '--set',
      'dashboards.label=grafana_dash',
      '--set',
      'dashboards.labelValue=yes',
    ]);
    const maps = byKind(objects, 'ConfigMap');
    const files = loadDashboards();
    assert.equal(maps.length, files.size);
    for (const cm of maps) {
      assert.equal(cm.metadata.labels?.grafana_dash, 'yes');
      const data = cm.data as Record<string, string>;
      const [file, json] = Object.entries(data)[0] ?? [];
      assert.ok(file && files.has(file), `unexpected key ${file}`);
      assert.deepEqual(JSON.parse(json ?? ''), files.get(file));
    }
  });

  test('monitors render when enabled, or when "auto" and monitoring.coreos.com/v1 exists', () => {
    const monitors = (args: string[]): string[] =>
      renderChart(args)
        .objects.filter((o) => monitoringKinds.has(o.kind))
        .map((o) => o.kind)
        .sort();
    const all = ['PodMonitor', 'PrometheusRule', 'ServiceMonitor'];
    assert.deepEqual(monitors([]), []);
    assert.deepEqual(monitors(['--api-versions', 'monitoring.coreos.com/v1']), all);
    assert.deepEqual(
      monitors([
        '--api-versions',
        'monitoring.coreos.com/v1',
        '--set',
        'monitoring.podMonitor.enabled=false',
      ]),
      ['PrometheusRule', 'ServiceMonitor'],
    );
    assert.deepEqual(
      monitors([
        '--set',
        'monitoring.serviceMonitor.enabled=true',
        '--set',
        'monitoring.prometheusRule.enabled=true',
      ]),
      ['PrometheusRule', 'ServiceMonitor'],
    );
  });

  test('the values schema and the template refuse unsafe or invalid values', () => {
    const refused = (args: string[], why: RegExp): void => {
      const res = helm(['template', 'x', chartDir, ...args], { allowFailure: true });
      assert.notEqual(res.status, 0, `accepted ${args.join(' ')}`);
      assert.match(res.stderr, why);
    };
    refused(['--set', 'replicaCount=2', '--set', 'leaderElection.enabled=false'], /leaderElection/);
    refused(['--set', 'securityContext.allowPrivilegeEscalation=true'], /allowPrivilegeEscalation/);
    refused(['--set', 'securityContext.runAsNonRoot=false'], /runAsNonRoot/);
    refused(['--set', 'monitoring.serviceMonitor.enabled=maybe'], /enabled/);
    refused(['--set', 'logLevel=loud'], /logLevel/);
    refused(['--set', 'unknownKey=1'], /unknownKey/);
    refused(['--set', 'watchNamespace='], /watchNamespace/);
    refused(['--set', 'watch.clusterWide=true', '--set', 'watch.namespace=chat'], /clusterWide/);
  });

  test("skaffold's values (base, dev and sample-cluster profiles) render against the schema", () => {
    const skaffold = parse(readFileSync(join(repoRoot, 'skaffold.yaml'), 'utf8')) as {
      deploy: {
        helm: {
          releases: {
            setValueTemplates: Record<string, string>;
            setValues: Record<string, unknown>;
          }[];
        };
      };
      profiles: { name: string; patches: { path: string; value: unknown }[] }[];
    };
    const release = skaffold.deploy.helm.releases[0];
    assert.ok(release);
    // What skaffold puts into the templates after a build.
    const fake = (t: string): string =>
      t
        .replace(/\{\{\.IMAGE_DOMAIN_\w+\}\}/, 'registry.local:5000')
        .replace(/\{\{\.IMAGE_REPO_NO_DOMAIN_(\w+)\}\}/, 'gossip/operator')
        .replace(/\{\{\.IMAGE_TAG_\w+\}\}/, 'abc1234')
        .replace(/\{\{\.IMAGE_FULLY_QUALIFIED_\w+\}\}/, 'registry.local:5000/gossip/x:abc1234');
    const base = [
      ...Object.entries(release.setValueTemplates).flatMap(([k, v]) => [
        '--set-string',
        `${k}=${fake(v)}`,
      ]),
      ...Object.entries(release.setValues).flatMap(([k, v]) => ['--set', `${k}=${String(v)}`]),
    ];
    for (const profile of [undefined, 'dev', 'sample-cluster']) {
      const patches = skaffold.profiles.find((p) => p.name === profile)?.patches ?? [];
      const extra = patches
        .filter((p) => p.path.startsWith('/deploy/helm/releases/0/setValues/'))
        .flatMap((p) => ['--set', `${p.path.split('/').at(-1)}=${String(p.value)}`]);
      const { objects } = renderChart([...base, ...extra]);
      const c = podSpec(one(objects, 'Deployment')).containers[0] as Container;
      assert.equal(c.image, 'registry.local:5000/gossip/operator:abc1234');
      if (profile === 'sample-cluster') {
        const gc = one(objects, 'GossipCluster');
        const spec = gc.spec as { image: { components: Record<string, string> } };
        assert.deepEqual(Object.keys(spec.image.components).sort(), ['api', 'engine', 'gateway']);
      }
    }
  });

  test('watch.namespace confines the RBAC to a Role in that namespace', () => {
    const { objects } = renderChart(['-n', 'ops', '--set', 'watch.namespace=chat']);
    assert.equal(byKind(objects, 'ClusterRole').length, 0);
    const roles = byKind(objects, 'Role');
    assert.deepEqual(roles.map((r) => r.metadata.namespace).sort(), ['chat', 'ops']);
    const c = podSpec(one(objects, 'Deployment')).containers[0] as Container;
    assert.equal(env(c, 'OPERATOR_WATCH_NAMESPACE'), 'chat');
  });

  test('only watch.clusterWide=true renders a ClusterRole; Secrets are get/create only in either', () => {
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
    const secretVerbs = (role: KubeObject): string[] =>
      (role.rules as Rule[])
        .filter((r) => r.apiGroups.includes('') && r.resources.includes('secrets'))
        .flatMap((r) => r.verbs)
        .sort();
    const wide = renderChart(['-n', 'ops', '--set', 'watch.clusterWide=true']).objects;
    const clusterRole = one(wide, 'ClusterRole');
    one(wide, 'ClusterRoleBinding');
    assert.deepEqual(secretVerbs(clusterRole), ['create', 'get']);
    const c = podSpec(one(wide, 'Deployment')).containers[0] as Container;
    assert.equal(env(c, 'OPERATOR_WATCH_NAMESPACE'), '');
    const narrow = renderChart(['-n', 'ops']).objects;
    const role = byKind(narrow, 'Role').find((r) => !r.metadata.name.endsWith('leader-election'));
    assert.ok(role);
    assert.deepEqual(secretVerbs(role), ['create', 'get']);
  });
});

describe('rendered manifests on the real control plane', () => {
  const ns = uniqueName('chart-dry');
  const scratch = join(testEnv().dir, 'scratch', ns);

  before(() => {
    mkdirSync(scratch, { recursive: true });
    // The CRD for real (server-side apply is idempotent; other tests may share it), so the
    // GossipCluster in the full values is validated against its schema.
    kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(chartDir, 'crds')]);
    kubectl(['wait', '--for=condition=Established', 'crd/gossipclusters.gossip.dev']);
    kubectl(['create', 'namespace', ns]);
  });
  after(() => {
    kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFailure: true });
  });

  for (const [label, args] of [
    ['default values', []],
    ['full values', ['-f', fullValues]],
  ] as const) {
    test(`${label}: kubectl apply --dry-run=server --server-side accepts every object`, () => {
      const { objects } = renderChart(['-n', ns, ...args]);
      const applicable = objects.filter((o) => !monitoringKinds.has(o.kind));
      const file = join(scratch, `${label.replace(' ', '-')}.yaml`);
      writeFileSync(file, applicable.map((o) => JSON.stringify(o)).join('\n---\n'));
      const res = kubectl([
        'apply',
        '--dry-run=server',
        '--server-side',
        '--field-manager=chart-test',
        '-n',
        ns,
        '-f',
        file,
      ]);
      for (const o of applicable) {
        const kind = o.kind.toLowerCase();
        assert.match(
          res.stdout,
          new RegExp(`${kind}[^ ]*/${o.metadata.name} serverside-applied \\(server dry run\\)`),
          `${o.kind}/${o.metadata.name} not in:\n${res.stdout}`,
        );
      }
      if (label === 'full values') {
        assert.ok(applicable.some((o) => o.kind === 'GossipCluster'));
      }
    });
  }

  test('full values: ServiceMonitor, PodMonitor and PrometheusRule are well-formed (their CRDs are absent here)', () => {
    const { objects } = renderChart(['-n', ns, '-f', fullValues]);
    const svc = one(objects, 'Service');
    const sm = one(objects, 'ServiceMonitor');
    const pm = one(objects, 'PodMonitor');
    const pr = one(objects, 'PrometheusRule');
    for (const o of [sm, pm, pr]) {
      assert.equal(o.apiVersion, 'monitoring.coreos.com/v1');
      assert.equal(o.metadata.namespace, ns);
      assert.equal(o.metadata.labels?.release, 'kube-prometheus-stack');
    }
    // The ServiceMonitor selects the metrics Service and scrapes its named port.
    const smSpec = sm.spec as {
      selector: { matchLabels: Record<string, string> };
      namespaceSelector: { matchNames: string[] };
      endpoints: { port: string; path: string; interval: string; honorLabels: boolean }[];
    };
    for (const [k, v] of Object.entries(smSpec.selector.matchLabels)) {
      assert.equal(svc.metadata.labels?.[k], v, `Service lacks selector label ${k}`);
    }
    assert.deepEqual(smSpec.namespaceSelector.matchNames, [ns]);
    const svcPortNames = (svc.spec as { ports: { name: string }[] }).ports.map((p) => p.name);
    assert.ok(svcPortNames.includes(smSpec.endpoints[0]?.port ?? ''));
    assert.equal(smSpec.endpoints[0]?.path, '/metrics');
    assert.equal(smSpec.endpoints[0]?.interval, '15s');
    assert.equal(smSpec.endpoints[0]?.honorLabels, true);
    // The PodMonitor finds the workloads by the shared contract's labels and port name, and
    // adds the cluster label the dashboards select on.
    const pmSpec = pm.spec as {
      namespaceSelector: { matchNames?: string[]; any?: boolean };
      selector: { matchLabels: Record<string, string> };
      podMetricsEndpoints: {
        port: string;
        path: string;
        relabelings: {
          sourceLabels: string[];
          targetLabel?: string;
          regex?: string;
          action?: string;
        }[];
      }[];
    };
    assert.deepEqual(pmSpec.namespaceSelector.matchNames, [ns]);
    assert.deepEqual(pmSpec.selector.matchLabels, {
      'app.kubernetes.io/name': 'gossip',
      'app.kubernetes.io/managed-by': 'gossip-operator',
    });
    // The api and the gateway on their ops port; the engine on http, where the others'
    // is public. The components dropped from http are cdk8s's (the operator's ports).
    const [opsEp, httpEp] = pmSpec.podMetricsEndpoints;
    assert.equal(opsEp?.port, 'ops');
    assert.equal(opsEp?.path, '/metrics');
    assert.deepEqual(
      opsEp?.relabelings.map((r) => r.targetLabel),
      ['cluster', 'component', 'pod'],
    );
    assert.equal(httpEp?.port, 'http');
    assert.equal(httpEp?.path, '/metrics');
    assert.deepEqual(httpEp?.relabelings[0], {
      sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_component'],
      regex: `(${separateOpsPort.join('|')})`,
      action: 'drop',
    });
    assert.deepEqual([...separateOpsPort].sort(), ['api', 'gateway']);
    assert.deepEqual(
      httpEp?.relabelings.slice(1).map((r) => r.targetLabel),
      ['cluster', 'component', 'pod'],
    );
    // The PrometheusRule's groups are a valid Prometheus rules file.
    const rulesFile = join(scratch, 'rules.yaml');
    writeFileSync(rulesFile, JSON.stringify({ groups: (pr.spec as { groups: unknown }).groups }));
    const check = run(testEnv().bin.promtool, ['check', 'rules', rulesFile]);
    assert.match(check.stdout, /SUCCESS/);
  });
});

describe('helm install and uninstall on the real control plane', () => {
  const ns = uniqueName('chart-inst');
  const release = 'gossip';
  // The real CRD may be in use by other tests on this shared control plane, so this release
  // installs a copy under a group of its own: it proves Helm creates the CRD from crds/
  // without touching the shared one.
  const group = `${ns.replace(/[^a-z0-9]/g, '')}.gossip.dev`;
  const crdName = `gossipclusters.${group}`;
  const chartCopy = join(testEnv().dir, 'scratch', ns, 'gossip');
  const sa = `system:serviceaccount:${ns}:gossip-operator`;

  before(() => {
    cpSync(chartDir, chartCopy, { recursive: true });
    const crdFile = join(chartCopy, 'crds/gossip.dev_gossipclusters.yaml');
    writeFileSync(
      crdFile,
      readFileSync(crdFile, 'utf8')
        .replace('name: gossipclusters.gossip.dev', `name: ${crdName}`)
        .replace('group: gossip.dev', `group: ${group}`),
    );
    kubectl(['create', 'namespace', ns]);
  });
  after(() => {
    helm(['uninstall', release, '-n', ns], { allowFailure: true });
    kubectl(['delete', 'crd', crdName, '--ignore-not-found', '--wait=false'], {
      allowFailure: true,
    });
    kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFailure: true });
  });

  test('helm install creates the CRD, the RBAC, the ServiceAccount, Service and Deployment', () => {
    assert.equal(
      kubectl(['get', 'crd', crdName], { allowFailure: true }).status,
      1,
      'the CRD must not exist before the install',
    );
    helm(['install', release, chartCopy, '-n', ns, '--set', 'replicaCount=2', '--timeout', '60s']);
    const crd = JSON.parse(kubectl(['get', 'crd', crdName, '-o', 'json']).stdout) as {
      spec: { group: string; versions: { name: string }[] };
    };
    assert.equal(crd.spec.group, group);
    assert.deepEqual(
      crd.spec.versions.map((v) => v.name),
      ['v1alpha1'],
    );
    kubectl(['-n', ns, 'get', 'role,rolebinding', 'gossip-operator']);
    const crName = `gossip-operator-${ns}`;
    assert.equal(kubectl(['get', 'clusterrole', crName], { allowFailure: true }).status, 1);
    kubectl(['-n', ns, 'get', 'serviceaccount', 'gossip-operator']);
    kubectl(['-n', ns, 'get', 'role,rolebinding', 'gossip-operator-leader-election']);
    kubectl(['-n', ns, 'get', 'service', 'gossip-operator-metrics']);
    kubectl(['-n', ns, 'get', 'poddisruptionbudget', 'gossip-operator']);
    const deploy = JSON.parse(
      kubectl(['-n', ns, 'get', 'deployment', 'gossip-operator', '-o', 'json']).stdout,
    ) as KubeObject;
    assert.equal((deploy.spec as { replicas: number }).replicas, 2);
    assert.equal(podSpec(deploy).serviceAccountName, 'gossip-operator');
    const notes = helm(['get', 'notes', release, '-n', ns]).stdout;
    assert.match(notes, /kubectl apply -n .* -f -/);
    assert.match(notes, /kind: GossipCluster/);
  });

  test("the operator's ServiceAccount may do what the operator needs and nothing more", () => {
    const can = (...args: string[]): boolean => {
      const res = kubectl(['auth', 'can-i', '--as', sa, ...args], { allowFailure: true });
      return res.stdout.trim() === 'yes';
    };
    // Exactly what operator/src calls (see the comments in templates/_helpers.tpl).
    const allowed: string[][] = [
      ['get', 'gossipclusters.gossip.dev', '-n', ns],
      ['watch', 'gossipclusters.gossip.dev', '-n', ns],
      ['patch', 'gossipclusters.gossip.dev', '-n', ns, '--subresource=status'],
      ['update', 'gossipclusters.gossip.dev', '-n', ns, '--subresource=finalizers'],
      // The data-retention finalizer (a JSON patch of metadata.finalizers alone).
      ['patch', 'gossipclusters.gossip.dev', '-n', ns],
      // Under dataRetentionPolicy Delete, the deleted cluster's store claims.
      ['list', 'persistentvolumeclaims', '-n', ns],
      ['delete', 'persistentvolumeclaims', '-n', ns],
      ['patch', 'deployments.apps', '-n', ns],
      ['create', 'deployments.apps', '-n', ns],
      ['delete', 'statefulsets.apps', '-n', ns],
      ['create', 'secrets', '-n', ns],
      ['get', 'secrets', '-n', ns],
      ['watch', 'configmaps', '-n', ns],
      ['patch', 'services', '-n', ns],
      ['patch', 'serviceaccounts', '-n', ns],
      ['patch', 'poddisruptionbudgets.policy', '-n', ns],
      ['watch', 'networkpolicies.networking.k8s.io', '-n', ns],
      ['patch', 'networkpolicies.networking.k8s.io', '-n', ns],
      ['list', 'pods', '-n', ns],
      ['create', 'events', '-n', ns],
      ['create', 'leases.coordination.k8s.io', '-n', ns],
      ['get', 'leases.coordination.k8s.io/gossip-operator', '-n', ns],
      ['update', 'leases.coordination.k8s.io/gossip-operator', '-n', ns],
    ];
    const denied: string[][] = [
      ['update', 'gossipclusters.gossip.dev', '-n', ns],
      ['delete', 'gossipclusters.gossip.dev', '-n', ns],
      ['create', 'gossipclusters.gossip.dev', '-n', ns],
      ['update', 'deployments.apps', '-n', ns],
      ['update', 'secrets', '-n', ns],
      ['list', 'endpointslices.discovery.k8s.io', '-n', ns],
      ['get', 'pods', '-n', ns],
      ['create', 'pods', '-n', ns],
      ['get', 'pods/proxy', '-n', ns],
      ['create', 'persistentvolumeclaims', '-n', ns],
      ['patch', 'persistentvolumeclaims', '-n', ns],
      ['get', 'persistentvolumeclaims', '-n', ns],
      ['patch', 'events', '-n', ns],
      ['get', 'nodes'],
      ['create', 'clusterroles.rbac.authorization.k8s.io'],
      ['create', 'rolebindings.rbac.authorization.k8s.io', '-n', ns],
      ['update', 'leases.coordination.k8s.io/someone-else', '-n', ns],
      ['create', 'leases.coordination.k8s.io', '-n', 'chat'],
      ['delete', 'customresourcedefinitions.apiextensions.k8s.io'],
      ['create', 'pods/exec', '-n', ns],
      // Secrets are read by name and created, never listed, watched, changed or deleted.
      ['list', 'secrets', '-n', ns],
      ['watch', 'secrets', '-n', ns],
      ['delete', 'secrets', '-n', ns],
      ['patch', 'secrets', '-n', ns],
      ['list', 'secrets', '-A'],
      ['watch', 'secrets', '-A'],
      // By default nothing outside the release namespace, and nothing cluster-wide.
      ['get', 'secrets', '-n', 'chat'],
      ['create', 'serviceaccounts', '-n', 'chat'],
      ['create', 'serviceaccounts', '-A'],
      ['watch', 'gossipclusters.gossip.dev', '-A'],
      ['get', 'gossipclusters.gossip.dev', '-n', 'chat'],
      ['patch', 'deployments.apps', '-n', 'chat'],
      ['list', 'pods', '-A'],
    ];
    for (const a of allowed) assert.ok(can(...a), `should be allowed: ${a.join(' ')}`);
    for (const d of denied) assert.ok(!can(...d), `should be denied: ${d.join(' ')}`);
  });

  test('helm uninstall removes everything but the CRD, which Helm never deletes', () => {
    helm(['uninstall', release, '-n', ns, '--wait', '--timeout', '60s']);
    for (const args of [
      ['-n', ns, 'get', 'role', 'gossip-operator'],
      ['-n', ns, 'get', 'rolebinding', 'gossip-operator'],
      ['-n', ns, 'get', 'deployment', 'gossip-operator'],
      ['-n', ns, 'get', 'serviceaccount', 'gossip-operator'],
      ['-n', ns, 'get', 'service', 'gossip-operator-metrics'],
      ['-n', ns, 'get', 'role', 'gossip-operator-leader-election'],
      ['-n', ns, 'get', 'lease', 'gossip-operator'],
    ]) {
      const res = kubectl(args, { allowFailure: true });
      assert.equal(res.status, 1, `still there: ${args.join(' ')}`);
      assert.match(res.stderr, /NotFound/);
    }
    kubectl(['get', 'crd', crdName]);
  });
});
