/**
 * The node's Kubernetes daemons built with the control plane: kube-scheduler, the kubelet
 * and kube-proxy (nftables mode), each configured to keep its state under the node's folder.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubeconfigYaml } from './certs.js';
import type { ControlPlane, NodeControlPlane } from './kube.js';
import { NODE_NET, writeJson, type NodePaths } from './node-layout.js';
import { daemon, freePort, type Ctx } from './servers.js';
import type { ServerRecord } from './state.js';

/** kube-scheduler against `cp`, without leader election (one node, one scheduler). */
export function startScheduler(ctx: Ctx, cp: ControlPlane): ServerRecord {
  return daemon(
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
  );
}

/** The kubelet, registering `node` with `cp` and running pods through the node's containerd. */
export async function startKubelet(
  ctx: Ctx,
  cp: ControlPlane,
  node: NodeControlPlane,
  p: NodePaths,
): Promise<ServerRecord> {
  const kubeletKubeconfig = join(p.kubeletDir, 'kubelet.kubeconfig');
  writeFileSync(
    kubeletKubeconfig,
    kubeconfigYaml(cp.apiUrl, cp.certs.caCert, cp.certs.nodeToken ?? ''),
    { mode: 0o600 },
  );
  const [kubeletPort, kubeletHealthz] = [await freePort(), await freePort()];
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
  return daemon(
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
  );
}

/** kube-proxy in nftables mode, with its metrics and health on loopback. */
export async function startKubeProxy(
  ctx: Ctx,
  cp: ControlPlane,
  node: NodeControlPlane,
  p: NodePaths,
): Promise<ServerRecord> {
  const [proxyMetrics, proxyHealthz] = [await freePort(), await freePort()];
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
  return daemon('kube-proxy', ctx.bin.kubeProxy, [`--config=${proxyConfig}`, '--v=1'], {
    logDir: ctx.logDir,
  });
}
