/**
 * The node's container runtime: containerd (Debian) with the CNI bridge network (Debian's
 * plugins), its config, sockets and state under the node's folder.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_IMAGES, NODE_NET, writeJson, type NodePaths } from './node-layout.js';
import { daemon, type Ctx, waitFor } from './servers.js';
import type { ServerRecord } from './state.js';

/** `ctr` against the node's containerd, in the namespace the kubelet uses. */
export function ctr(socket: string, args: string[], timeout = 300_000): string {
  return execFileSync('ctr', ['--address', socket, '-n', 'k8s.io', ...args], {
    encoding: 'utf8',
    timeout,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function containerdConfig(p: NodePaths): string {
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

/** Writes containerd's config and the CNI network, starts containerd, and resolves once it answers. */
export async function startContainerd(ctx: Ctx, p: NodePaths): Promise<ServerRecord> {
  for (const d of [p.cniConfDir, p.cniIpamDir, join(p.root, 'containerd')]) {
    mkdirSync(d, { recursive: true });
  }
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

  const containerd = daemon('containerd', '/usr/bin/containerd', ['--config', p.containerdConfig], {
    logDir: ctx.logDir,
  });
  await waitFor(
    containerd,
    async () => {
      ctr(p.containerdSocket, ['version'], 5000);
      return true;
    },
    30_000,
  );
  return containerd;
}
