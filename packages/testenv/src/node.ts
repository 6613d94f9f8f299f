/**
 * A real single Kubernetes node beside the control plane (`up --node`): containerd
 * (Debian), kube-scheduler, kubelet and kube-proxy (built with the control plane), CNI
 * bridge networking (Debian plugins), CoreDNS and the local-path volume provisioner
 * (built from the Go module proxy) and kube-router's NetworkPolicy controller
 * (policy-controller.ts), each configured to keep its state under the run's folder.
 * Everything it changes on the host outside that folder is recorded first and undone by
 * {@link stopNode} (host.ts).
 *
 * Settings this machine kind needs (see ../../shared/real-node/REPORT.md for how they were
 * found): containerd's `restrict_oom_score_adj` (no CAP_SYS_RESOURCE), the kubelet's
 * `failCgroupV1: false` with the cgroupfs driver (the host is cgroup v1), kube-proxy in
 * nftables mode (no IPVS, no iptables-legacy).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { kubeconfigYaml } from './certs.js';
import { cacheRoot, VERSIONS, type NodeBinaries, type Progress } from './install.js';
import type { ControlPlane, NodeControlPlane } from './kube.js';
import { writeOciArchive } from './oci.js';
import { ensurePolicyController, startPolicyController } from './policy-controller.js';
import { daemon, freePort, type Ctx, waitFor } from './servers.js';
import type { ServerRecord } from './state.js';

/** The node's networks: Services, pods, and the DNS Service's fixed ClusterIP. */
export const NODE_NET = {
  name: 'gossip-node',
  serviceCidr: '10.96.0.0/16',
  apiServiceIp: '10.96.0.1',
  dnsIp: '10.96.0.10',
  podCidr: '10.244.0.0/24',
  clusterCidr: '10.244.0.0/16',
  clusterDomain: 'cluster.local',
} as const;

/** Where the node's own images are imported under (never pulled: there is no registry). */
export const NODE_IMAGES = {
  pause: `testenv.gossip.local/pause:${VERSIONS.kubernetes}`,
  coredns: `testenv.gossip.local/coredns:${VERSIONS.coredns}`,
  localPath: `testenv.gossip.local/local-path-provisioner:${VERSIONS.localPath}`,
  busybox: 'testenv.gossip.local/busybox:1',
} as const;

/**
 * The node's address: the host's first non-loopback IPv4 address. The apiserver
 * listens and advertises there, because pods reach it through the `kubernetes`
 * Service, which cannot point at loopback.
 */
export function nodeControlPlane(): NodeControlPlane {
  for (const [ifname, addrs] of Object.entries(networkInterfaces())) {
    if (/^(cni|veth|lo)/.test(ifname)) continue;
    const v4 = addrs?.find((a) => a.family === 'IPv4' && !a.internal);
    if (v4) {
      return {
        ip: v4.address,
        name: NODE_NET.name,
        apiServiceIp: NODE_NET.apiServiceIp,
        serviceCidr: NODE_NET.serviceCidr,
      };
    }
  }
  throw new Error('a node needs a non-loopback IPv4 address on this host; none found');
}

/** Paths of one run's node, all under its data folder. */
export function nodePaths(dataDir: string) {
  const root = join(dataDir, 'node');
  return {
    root,
    containerdConfig: join(root, 'containerd', 'config.toml'),
    containerdSocket: join(root, 'containerd', 'containerd.sock'),
    cniConfDir: join(root, 'cni', 'net.d'),
    cniIpamDir: join(root, 'cni', 'ipam'),
    kubeletDir: join(root, 'kubelet'),
    proxyDir: join(root, 'proxy'),
    localPathDir: join(root, 'local-path'),
  };
}

/** `ctr` against the node's containerd, in the namespace the kubelet uses. */
export function ctr(socket: string, args: string[], timeout = 300_000): string {
  return execFileSync('ctr', ['--address', socket, '-n', 'k8s.io', ...args], {
    encoding: 'utf8',
    timeout,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * The node's small images as OCI archives in the cache, written once: pause,
 * CoreDNS and local-path-provisioner (each one static binary), and busybox for the
 * provisioner's helper pods (it runs `mkdir` and `rm` in a shell).
 */
export async function ensureNodeImages(bin: NodeBinaries, progress: Progress): Promise<string[]> {
  const dir = join(
    cacheRoot(),
    `node-images-${VERSIONS.kubernetes}-${VERSIONS.coredns}-${VERSIONS.localPath}`,
  );
  mkdirSync(dir, { recursive: true });
  const specs: [string, string, { file: string; to: string }[], string[]][] = [
    ['pause', NODE_IMAGES.pause, [{ file: bin.pause, to: 'pause' }], ['/pause']],
    ['coredns', NODE_IMAGES.coredns, [{ file: bin.coredns, to: 'coredns' }], ['/coredns']],
    [
      'local-path',
      NODE_IMAGES.localPath,
      [{ file: bin.localPath, to: 'usr/bin/local-path-provisioner' }],
      ['/usr/bin/local-path-provisioner'],
    ],
    ['busybox', NODE_IMAGES.busybox, [{ file: '/bin/busybox', to: 'bin/busybox' }], ['/bin/sh']],
  ];
  const tars: string[] = [];
  for (const [key, name, files, entrypoint] of specs) {
    const tar = join(dir, `${key}.tar`);
    tars.push(tar);
    if (existsSync(tar)) continue;
    const rootfs = join(dir, `${key}.rootfs`);
    rmSync(rootfs, { recursive: true, force: true });
    for (const f of files) {
      const to = join(rootfs, f.to);
      mkdirSync(join(to, '..'), { recursive: true });
      execFileSync('cp', [f.file, to]);
    }
    if (key === 'busybox') {
      for (const applet of ['sh', 'mkdir', 'rm', 'rmdir', 'chmod', 'ls', 'cat', 'sleep']) {
        symlinkSync('busybox', join(rootfs, 'bin', applet));
      }
      mkdirSync(join(rootfs, 'tmp'));
    }
    await writeOciArchive(
      rootfs,
      { name, entrypoint, env: ['PATH=/usr/local/bin:/usr/bin:/bin'] },
      tar,
      join(dir, `${key}.work`),
    );
    rmSync(rootfs, { recursive: true, force: true });
    progress(`  wrote image ${name}`);
  }
  return tars;
}

function containerdConfig(p: ReturnType<typeof nodePaths>): string {
  const c = join(p.root, 'containerd');
  return `version = 2
root = "${c}/root"
state = "${c}/state"
[grpc]
  address = "${p.containerdSocket}"
[ttrpc]
  address = "${p.containerdSocket}.ttrpc"
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "${NODE_IMAGES.pause}"
    enable_cdi = false
    # Network namespaces under our state folder, not /run/netns.
    netns_mounts_under_state_dir = true
    # Required here: the host gives no CAP_SYS_RESOURCE, so the kubelet's oom_score_adj of
    # -998 for sandboxes would fail every pod ("can't get final child's PID from pipe").
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          BinaryName = "/usr/sbin/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "${p.cniConfDir}"
  [plugins."io.containerd.internal.v1.opt"]
    path = "${c}/opt"
`;
}

export interface NodeHandle {
  recs: ServerRecord[];
  containerdSocket: string;
  nodeName: string;
  nodeIp: string;
}

/** JSON is YAML: the kubelet and kube-proxy read these configs either way. */
function writeJson(file: string, value: unknown): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

function kubectl(ctx: Ctx, kubeconfig: string, args: string[], input?: string): string {
  return execFileSync(ctx.bin.kubectl, ['--kubeconfig', kubeconfig, ...args], {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 60_000,
  });
}

/**
 * Starts containerd, kube-scheduler, the kubelet and kube-proxy against `cp`, imports the
 * node's images, and installs CoreDNS and local-path-provisioner; resolves once the node
 * is Ready and cluster DNS answers through its Service.
 */
export async function startNode(
  ctx: Ctx,
  cp: ControlPlane,
  node: NodeControlPlane,
  bin: NodeBinaries,
  images: string[],
  progress: Progress,
): Promise<NodeHandle> {
  const p = nodePaths(ctx.dataDir);
  for (const d of [p.cniConfDir, p.cniIpamDir, p.kubeletDir, p.proxyDir, p.localPathDir]) {
    mkdirSync(d, { recursive: true });
  }
  mkdirSync(join(p.root, 'containerd'), { recursive: true });
  writeFileSync(p.containerdConfig, containerdConfig(p));
  writeJson(join(p.cniConfDir, '10-gossip.conflist'), {
    cniVersion: '1.0.0',
    name: 'gossip',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: p.cniIpamDir,
          ranges: [[{ subnet: NODE_NET.podCidr }]],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  });

  const recs: ServerRecord[] = [];
  const containerd = daemon('containerd', '/usr/bin/containerd', ['--config', p.containerdConfig], {
    logDir: ctx.logDir,
  });
  recs.push(containerd);
  await waitFor(
    containerd,
    async () => {
      ctr(p.containerdSocket, ['version'], 5000);
      return true;
    },
    30_000,
  );
  // Imports run beside the kubelet's start; pods need only pause to begin.
  const imported = (async () => {
    const started = Date.now();
    for (const tar of images) ctr(p.containerdSocket, ['images', 'import', tar]);
    progress(
      `  imported ${images.length} node images in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  })();

  recs.push(
    daemon(
      'kube-scheduler',
      ctx.bin.kubeScheduler,
      [
        `--kubeconfig=${cp.kubeconfig}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        '--secure-port=0',
        '--v=0',
      ],
      { logDir: ctx.logDir },
    ),
  );

  const kubeletKubeconfig = join(p.kubeletDir, 'kubelet.kubeconfig');
  writeFileSync(
    kubeletKubeconfig,
    kubeconfigYaml(cp.apiUrl, cp.certs.caCert, cp.certs.nodeToken ?? ''),
    { mode: 0o600 },
  );
  const [kubeletPort, kubeletHealthz, proxyMetrics, proxyHealthz] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const kubeletConfig = join(p.kubeletDir, 'config.yaml');
  writeJson(kubeletConfig, {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // Required here: the host is cgroup v1 (hybrid, controllers held by init), which
    // kubelet 1.37 refuses unless told.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    containerRuntimeEndpoint: `unix://${p.containerdSocket}`,
    address: node.ip,
    port: kubeletPort,
    healthzBindAddress: '127.0.0.1',
    healthzPort: kubeletHealthz,
    readOnlyPort: 0,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: false },
      x509: { clientCAFile: cp.certs.caCert },
    },
    authorization: { mode: 'AlwaysAllow' },
    clusterDNS: [NODE_NET.dnsIp],
    clusterDomain: NODE_NET.clusterDomain,
    resolvConf: '/etc/resolv.conf',
    failSwapOn: false,
    // Test disks are small and the imported images can never be pulled again.
    evictionHard: {
      'memory.available': '100Mi',
      'nodefs.available': '1%',
      'imagefs.available': '1%',
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    syncFrequency: '10s',
    nodeStatusReportFrequency: '10s',
    podLogsDir: join(p.kubeletDir, 'pod-logs'),
  });
  recs.push(
    daemon(
      'kubelet',
      ctx.bin.kubelet,
      [
        `--config=${kubeletConfig}`,
        `--kubeconfig=${kubeletKubeconfig}`,
        `--root-dir=${join(p.kubeletDir, 'root')}`,
        // Without it the kubelet writes its serving certificate to /var/lib/kubelet/pki.
        `--cert-dir=${join(p.kubeletDir, 'pki')}`,
        `--hostname-override=${node.name}`,
        `--node-ip=${node.ip}`,
        '--v=1',
      ],
      { logDir: ctx.logDir },
    ),
  );

  const proxyConfig = join(p.proxyDir, 'config.yaml');
  writeJson(proxyConfig, {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'nftables',
    clientConnection: { kubeconfig: cp.kubeconfig },
    clusterCIDR: NODE_NET.clusterCidr,
    hostnameOverride: node.name,
    metricsBindAddress: `127.0.0.1:${proxyMetrics}`,
    healthzBindAddress: `127.0.0.1:${proxyHealthz}`,
    // Zero: leave the host's conntrack sysctls alone.
    conntrack: { maxPerCore: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
  });
  recs.push(
    daemon('kube-proxy', ctx.bin.kubeProxy, [`--config=${proxyConfig}`, '--v=1'], {
      logDir: ctx.logDir,
    }),
  );

  const kubelet = recs.find((r) => r.name === 'kubelet')!;
  await waitFor(
    kubelet,
    async () =>
      kubectl(ctx, cp.kubeconfig, [
        'get',
        'node',
        node.name,
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ]) === 'True',
    120_000,
  );
  // After the node object exists: kube-router reads it (name, address) when it starts.
  const policyBin = await ensurePolicyController(progress);
  recs.push(await startPolicyController(ctx, cp, node, policyBin, NODE_NET.serviceCidr));
  await imported;
  kubectl(
    ctx,
    cp.kubeconfig,
    ['apply', '-f', '-'],
    JSON.stringify(addons(p, bin.localPathManifest)),
  );
  await waitFor(
    kubelet,
    async () => {
      const ready = kubectl(ctx, cp.kubeconfig, [
        '-n',
        'kube-system',
        'get',
        'deploy',
        'coredns',
        '-o',
        'jsonpath={.status.readyReplicas}',
      ]);
      return ready === '1';
    },
    120_000,
  );
  return { recs, containerdSocket: p.containerdSocket, nodeName: node.name, nodeIp: node.ip };
}

const COREFILE = `.:53 {
    errors
    health :8080
    ready :8181
    kubernetes ${NODE_NET.clusterDomain} in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
}
`;

/** CoreDNS (Service kube-dns at the fixed DNS IP) and local-path-provisioner (the default StorageClass). */
function addons(p: ReturnType<typeof nodePaths>, localPathManifest: string): unknown {
  const ns = 'kube-system';
  const labels = { 'k8s-app': 'kube-dns' };
  const coredns = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints', 'services', 'pods', 'namespaces'],
          verbs: ['list', 'watch'],
        },
        {
          apiGroups: ['discovery.k8s.io'],
          resources: ['endpointslices'],
          verbs: ['list', 'watch'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'system:coredns',
      },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: ns }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'coredns', namespace: ns },
      data: { Corefile: COREFILE },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: ns, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            // The host's resolver for names outside the cluster.
            dnsPolicy: 'Default',
            terminationGracePeriodSeconds: 0,
            containers: [
              {
                name: 'coredns',
                image: NODE_IMAGES.coredns,
                imagePullPolicy: 'Never',
                args: ['-conf', '/etc/coredns/Corefile'],
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 1 },
                livenessProbe: { httpGet: { path: '/health', port: 8080 }, periodSeconds: 10 },
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns' }],
              },
            ],
            volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: ns, labels },
      spec: {
        clusterIP: NODE_NET.dnsIp,
        selector: labels,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        ],
      },
    },
  ];
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [...coredns, ...localPath(p, localPathManifest)],
  };
}

/**
 * The provisioner's own manifest from its pinned module (deploy/local-path-storage.yaml),
 * with the local images, volumes under the node's folder, and its StorageClass the default
 * (the operator's StatefulSets name no class).
 */
function localPath(p: ReturnType<typeof nodePaths>, manifest: string): unknown[] {
  interface Doc {
    kind?: string;
    metadata: { annotations?: Record<string, string> };
    spec?: {
      template: {
        spec: {
          terminationGracePeriodSeconds?: number;
          containers: { image: string; imagePullPolicy: string }[];
        };
      };
    };
    data?: Record<string, string>;
  }
  const docs = parseAllDocuments(readFileSync(manifest, 'utf8'))
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);
  for (const d of docs) {
    if (d.kind === 'Deployment' && d.spec) {
      const spec = d.spec.template.spec;
      spec.terminationGracePeriodSeconds = 0;
      spec.containers[0]!.image = NODE_IMAGES.localPath;
      spec.containers[0]!.imagePullPolicy = 'Never';
    }
    if (d.kind === 'StorageClass') {
      d.metadata.annotations = { 'storageclass.kubernetes.io/is-default-class': 'true' };
    }
    if (d.kind === 'ConfigMap' && d.data) {
      d.data['config.json'] = JSON.stringify({
        nodePathMap: [{ node: 'DEFAULT_PATH_FOR_NON_LISTED_NODES', paths: [p.localPathDir] }],
      });
      d.data['helperPod.yaml'] = String(d.data['helperPod.yaml']).replace(
        'image: busybox',
        `image: ${NODE_IMAGES.busybox}`,
      );
    }
  }
  return docs;
}
