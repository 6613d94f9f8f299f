/**
 * The control plane's credentials: a throwaway CA, the apiserver's serving
 * certificate for loopback, the service-account signing key and an admin token.
 * Made with the openssl CLI because Node cannot issue X.509 certificates itself.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ControlPlaneCerts {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  saKey: string;
  saPub: string;
  tokenFile: string;
  adminToken: string;
  /** Only for a control plane with a node: the apiserver's client certificate for the kubelet. */
  kubeletClientCert?: string;
  kubeletClientKey?: string;
  /** Only with a node: the kubelet's bearer token (user `system:node:<name>`, group system:nodes). */
  nodeToken?: string;
}

/** What a control plane serving a real node needs beyond loopback. */
export interface NodeIdentity {
  /** The node's (and the apiserver's advertised) address. */
  ip: string;
  /** The node name; the kubelet authenticates as `system:node:<name>`. */
  name: string;
  /** The `kubernetes` Service's ClusterIP, which pods use to reach the apiserver. */
  apiServiceIp: string;
}

export function makeCerts(openssl: string, dir: string, node?: NodeIdentity): ControlPlaneCerts {
  mkdirSync(dir, { recursive: true });
  const f = (name: string): string => join(dir, name);
  const ossl = (...args: string[]): void => {
    execFileSync(openssl, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  ossl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '30',
    '-subj',
    '/CN=gossip-testenv-ca',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
  );
  /** A key and a certificate for `subject`, signed by the CA with the extensions in `ext`. */
  const issue = (name: string, subject: string, ext: string): void => {
    ossl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      subject,
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.csr`),
    );
    ossl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '30',
      '-extfile',
      f(ext),
      '-out',
      f(`${name}.crt`),
    );
  };
  const nodeSans = node
    ? `,IP:${node.ip},IP:${node.apiServiceIp},DNS:kubernetes.default.svc.cluster.local`
    : '';
  writeFileSync(
    f('apiserver.ext'),
    `subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc${nodeSans}\n` +
      'extendedKeyUsage=serverAuth\n',
  );
  issue('apiserver', '/CN=kube-apiserver', 'apiserver.ext');
  ossl('genrsa', '-out', f('sa.key'), '2048');
  ossl('rsa', '-in', f('sa.key'), '-pubout', '-out', f('sa.pub'));
  const adminToken = randomBytes(24).toString('hex');
  // token,user,uid,"group1,group2": system:masters bypasses RBAC for the tests' admin.
  let tokens = `${adminToken},admin,admin,"system:masters"\n`;
  let nodeParts: Partial<ControlPlaneCerts> = {};
  if (node) {
    // The apiserver authenticates to the kubelet (logs, exec, port-forward) with this certificate.
    writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
    issue('kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client', 'client.ext');
    const nodeToken = randomBytes(24).toString('hex');
    // The Node authorizer grants a kubelet only its own node's objects, by this user name.
    tokens += `${nodeToken},system:node:${node.name},node-${node.name},"system:nodes"\n`;
    nodeParts = {
      kubeletClientCert: f('kubelet-client.crt'),
      kubeletClientKey: f('kubelet-client.key'),
      nodeToken,
    };
  }
  writeFileSync(f('tokens.csv'), tokens, { mode: 0o600 });
  return {
    ...nodeParts,
    dir,
    caCert: f('ca.crt'),
    caKey: f('ca.key'),
    serverCert: f('apiserver.crt'),
    serverKey: f('apiserver.key'),
    saKey: f('sa.key'),
    saPub: f('sa.pub'),
    tokenFile: f('tokens.csv'),
    adminToken,
  };
}

/** A kubeconfig with the admin token, trusting the test CA. */
export function kubeconfigYaml(server: string, caCert: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: testenv',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${caCert}`,
    'users:',
    '- name: admin',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: testenv',
    '  context:',
    '    cluster: testenv',
    '    user: admin',
    '    namespace: default',
    'current-context: testenv',
    '',
  ].join('\n');
}
