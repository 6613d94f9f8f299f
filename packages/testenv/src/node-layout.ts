/**
 * Where one run's node lives: its networks, the names its images are imported under, its
 * address, and the paths of its state, all under the run's data folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { NodeControlPlane } from './kube.js';
import { VERSIONS } from './versions.js';

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

/** The paths {@link nodePaths} returns. */
export type NodePaths = ReturnType<typeof nodePaths>;

/** JSON is YAML: the kubelet and kube-proxy read these configs either way. */
export function writeJson(file: string, value: unknown): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}
