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
}

export function makeCerts(openssl: string, dir: string): ControlPlaneCerts {
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
  ossl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=kube-apiserver',
    '-keyout',
    f('apiserver.key'),
    '-out',
    f('apiserver.csr'),
  );
  writeFileSync(
    f('apiserver.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n' +
      'extendedKeyUsage=serverAuth\n',
  );
  ossl(
    'x509',
    '-req',
    '-in',
    f('apiserver.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    f('apiserver.ext'),
    '-out',
    f('apiserver.crt'),
  );
  ossl('genrsa', '-out', f('sa.key'), '2048');
  ossl('rsa', '-in', f('sa.key'), '-pubout', '-out', f('sa.pub'));
  const adminToken = randomBytes(24).toString('hex');
  // token,user,uid,"group1,group2": system:masters bypasses RBAC for the tests' admin.
  writeFileSync(f('tokens.csv'), `${adminToken},admin,admin,"system:masters"\n`, { mode: 0o600 });
  return {
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
