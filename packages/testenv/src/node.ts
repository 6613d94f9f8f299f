/**
 * A real single Kubernetes node beside the control plane (`up --node`): containerd and the
 * CNI bridge (containerd.ts), kube-scheduler, kubelet and kube-proxy (node-daemons.ts),
 * CoreDNS and the local-path volume provisioner (node-addons.ts, images from
 * node-images.ts) and kube-router's NetworkPolicy controller (policy-controller.ts), each
 * configured to keep its state under the run's folder (node-layout.ts). Everything it
 * changes on the host outside that folder is recorded first and undone by
 * {@link stopNode} (host.ts).
 *
 * Settings this machine kind needs (see ../../shared/real-node/REPORT.md for how they were
 * found): containerd's `restrict_oom_score_adj` (no CAP_SYS_RESOURCE), the kubelet's
 * `failCgroupV1: false` with the cgroupfs driver (the host is cgroup v1), kube-proxy in
 * nftables mode (no IPVS, no iptables-legacy).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import type { Progress } from './build-cache.js';
import { ctr, startContainerd } from './containerd.js';
import type { NodeBinaries } from './install.js';
import type { ControlPlane, NodeControlPlane } from './kube.js';
import { nodeAddons } from './node-addons.js';
import { startKubelet, startKubeProxy, startScheduler } from './node-daemons.js';
import { NODE_NET, nodePaths } from './node-layout.js';
import { ensurePolicyController, startPolicyController } from './policy-controller.js';
import { type Ctx, waitFor } from './servers.js';
import type { ServerRecord } from './state.js';

// What the other testenv modules import from here.
export { ctr } from './containerd.js';
export { ensureNodeImages } from './node-images.js';
export { NODE_IMAGES, NODE_NET, nodeControlPlane, nodePaths } from './node-layout.js';

export interface NodeHandle {
  recs: ServerRecord[];
  containerdSocket: string;
  nodeName: string;
  nodeIp: string;
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
  for (const d of [p.kubeletDir, p.proxyDir, p.localPathDir]) mkdirSync(d, { recursive: true });
  const recs: ServerRecord[] = [await startContainerd(ctx, p)];
  // Imports run beside the kubelet's start; pods need only pause to begin.
  const imported = (async () => {
    const started = Date.now();
    for (const tar of images) ctr(p.containerdSocket, ['images', 'import', tar]);
    progress(
      `  imported ${images.length} node images in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  })();

  recs.push(startScheduler(ctx, cp));
  const kubelet = await startKubelet(ctx, cp, node, p);
  recs.push(kubelet);
  recs.push(await startKubeProxy(ctx, cp, node, p));

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
    JSON.stringify(nodeAddons(p, bin.localPathManifest)),
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
