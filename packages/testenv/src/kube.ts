/**
 * The real Kubernetes control plane: etcd, kube-apiserver and kube-controller-manager,
 * with an admin token kubeconfig. By default on loopback with no scheduler and no
 * kubelet (pods stay Pending, which is what envtest-style tests want); given a
 * {@link NodeIdentity} it serves a real node instead (see node.ts): the apiserver
 * listens on the node's address, advertises it to pods through the `kubernetes`
 * Service, and can reach the kubelet.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubeconfigYaml, makeCerts, type ControlPlaneCerts, type NodeIdentity } from './certs.js';
import { daemon, freePort, httpOk, httpsOk, type Ctx, waitFor } from './servers.js';
import type { ServerRecord } from './state.js';

export interface ControlPlane {
  recs: ServerRecord[];
  apiUrl: string;
  kubeconfig: string;
  certs: ControlPlaneCerts;
}

/** A control plane for a real node: its identity and the Service network pods see. */
export interface NodeControlPlane extends NodeIdentity {
  /** Service ClusterIPs; the first address is `apiServiceIp`. */
  serviceCidr: string;
}

export async function startControlPlane(ctx: Ctx, node?: NodeControlPlane): Promise<ControlPlane> {
  const dir = join(ctx.dataDir, 'kube');
  mkdirSync(dir, { recursive: true });
  const certs = makeCerts(ctx.bin.openssl, join(dir, 'pki'), node);

  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const etcd = daemon(
    'etcd',
    ctx.bin.etcd,
    [
      '--name=default',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      // Test data only: skipping fsync makes the apiserver much faster on a small disk.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    { logDir: ctx.logDir },
  );
  await waitFor(etcd, () => httpOk(`${etcdUrl}/health`), 30_000);

  const host = node ? node.ip : '127.0.0.1';
  const apiUrl = `https://${host}:${apiPort}`;
  // Loopback only: no pod needs the apiserver, so the `kubernetes` Service has no endpoints.
  const loopbackFlags = [
    '--service-cluster-ip-range=10.0.0.0/24',
    // The default reconciler refuses a loopback advertise address; nothing here needs it.
    '--endpoint-reconciler-type=none',
  ];
  // With a node: pods reach the apiserver through the `kubernetes` Service (the default
  // lease reconciler points it at the advertised address), and the apiserver reaches the
  // kubelet for logs, exec and port-forward with its client certificate.
  const nodeFlags = node
    ? [
        `--service-cluster-ip-range=${node.serviceCidr}`,
        `--kubelet-client-certificate=${certs.kubeletClientCert}`,
        `--kubelet-client-key=${certs.kubeletClientKey}`,
        // The node's name resolves nowhere; reach the kubelet (logs, exec) at its address.
        '--kubelet-preferred-address-types=InternalIP',
      ]
    : [];
  const apiserver = daemon(
    'kube-apiserver',
    ctx.bin.kubeApiserver,
    [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${host}`,
      `--advertise-address=${host}`,
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'certs')}`,
      `--tls-cert-file=${certs.serverCert}`,
      `--tls-private-key-file=${certs.serverKey}`,
      `--client-ca-file=${certs.caCert}`,
      `--token-auth-file=${certs.tokenFile}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${certs.saPub}`,
      `--service-account-signing-key-file=${certs.saKey}`,
      ...(node ? nodeFlags : loopbackFlags),
      '--authorization-mode=Node,RBAC',
      '--allow-privileged=true',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
      '--v=0',
    ],
    { logDir: ctx.logDir },
  );
  await waitFor(
    apiserver,
    () => httpsOk(`${apiUrl}/readyz`, certs.caCert, certs.adminToken),
    120_000,
  );

  const kubeconfig = join(dir, 'admin.kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml(apiUrl, certs.caCert, certs.adminToken), {
    mode: 0o600,
  });

  const kcm = daemon(
    'kube-controller-manager',
    ctx.bin.kubeControllerManager,
    [
      `--kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--leader-elect=false',
      `--service-account-private-key-file=${certs.saKey}`,
      `--root-ca-file=${certs.caCert}`,
      '--use-service-account-credentials=false',
      ...(node ? [`--service-cluster-ip-range=${node.serviceCidr}`] : []),
      '--controllers=*',
      '--v=0',
    ],
    { logDir: ctx.logDir },
  );
  // KCM serves nothing here; it is ready once it has created the default ServiceAccount.
  await waitFor(
    kcm,
    () =>
      httpsOk(
        `${apiUrl}/api/v1/namespaces/default/serviceaccounts/default`,
        certs.caCert,
        certs.adminToken,
      ),
    120_000,
  );
  return { recs: [etcd, apiserver, kcm], apiUrl, kubeconfig, certs };
}
