/**
 * The real Kubernetes control plane on loopback: etcd, kube-apiserver and
 * kube-controller-manager (no scheduler, no kubelet: pods stay Pending, which is
 * what envtest-style tests want), with an admin token kubeconfig.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubeconfigYaml, makeCerts } from './certs.js';
import { daemon, freePort, httpOk, httpsOk, type Ctx, waitFor } from './servers.js';
import type { ServerRecord } from './state.js';

export interface ControlPlane {
  recs: ServerRecord[];
  apiUrl: string;
  kubeconfig: string;
}

export async function startControlPlane(ctx: Ctx): Promise<ControlPlane> {
  const dir = join(ctx.dataDir, 'kube');
  mkdirSync(dir, { recursive: true });
  const certs = makeCerts(ctx.bin.openssl, join(dir, 'pki'));

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

  const apiUrl = `https://127.0.0.1:${apiPort}`;
  const apiserver = daemon(
    'kube-apiserver',
    ctx.bin.kubeApiserver,
    [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'certs')}`,
      `--tls-cert-file=${certs.serverCert}`,
      `--tls-private-key-file=${certs.serverKey}`,
      `--client-ca-file=${certs.caCert}`,
      `--token-auth-file=${certs.tokenFile}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${certs.saPub}`,
      `--service-account-signing-key-file=${certs.saKey}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=Node,RBAC',
      '--allow-privileged=true',
      // The default reconciler refuses a loopback advertise address; nothing here needs it.
      '--endpoint-reconciler-type=none',
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
  return { recs: [etcd, apiserver, kcm], apiUrl, kubeconfig };
}
