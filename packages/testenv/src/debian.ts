/**
 * The Debian packages the test servers come from, by what is being started, each with one
 * binary that proves it is installed; installed through apt when running as root.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Progress } from './build-cache.js';

/** Debian packages the local stack (`npm start`) needs, and one binary each that proves it is installed. */
const STACK_DEBIAN: Record<string, string> = {
  'redis-server': '/usr/bin/redis-server',
  'rabbitmq-server': '/usr/lib/rabbitmq/bin/rabbitmq-server',
};

/** What the tests need on top: Prometheus and promtool, openssl for the control plane's CA, a browser. */
export const DEBIAN: Readonly<Record<string, string>> = {
  ...STACK_DEBIAN,
  prometheus: '/usr/bin/prometheus',
  openssl: '/usr/bin/openssl',
  chromium: '/usr/bin/chromium',
};

/**
 * What a real node needs on top (`up --node`): the container runtime, CNI plugins, the
 * tools kube-proxy, the kubelet, kube-router and the clean-up use, buildah for images, debootstrap for
 * the images' Debian base, busybox for the volume helper image, gcc to compile `pause`.
 */
const NODE_DEBIAN: Record<string, string> = {
  containerd: '/usr/bin/containerd',
  runc: '/usr/sbin/runc',
  'containernetworking-plugins': '/usr/lib/cni/bridge',
  nftables: '/usr/sbin/nft',
  iptables: '/usr/sbin/iptables',
  // kube-router's NetworkPolicy controller keeps pod address sets in ipsets (policy-controller.ts).
  ipset: '/usr/sbin/ipset',
  conntrack: '/usr/sbin/conntrack',
  buildah: '/usr/bin/buildah',
  debootstrap: '/usr/sbin/debootstrap',
  'busybox-static': '/bin/busybox',
  gcc: '/usr/bin/gcc',
  'libc6-dev': '/usr/lib/x86_64-linux-gnu/libc.a',
};

/**
 * What `testenv skaffold` needs on top of a node: podman, whose `system service` is the
 * Docker Engine API that skaffold's local builder asks for image ids and tags (over the same
 * storage buildah builds into); skaffold itself builds through buildah (a custom builder).
 */
const SKAFFOLD_DEBIAN: Record<string, string> = { podman: '/usr/bin/podman' };

/** Which Debian packages to make sure of: the tests' full set, the stack's, the tests' plus a node's, or skaffold's. */
export type DebianSet = 'tests' | 'stack' | 'node' | 'skaffold';

function debianSet(set: DebianSet): Record<string, string> {
  if (set === 'stack') return STACK_DEBIAN;
  if (set === 'skaffold') return SKAFFOLD_DEBIAN;
  return set === 'node' ? { ...DEBIAN, ...NODE_DEBIAN } : DEBIAN;
}

/** Installs missing Debian packages (as root) or says exactly what to install. */
export function ensureDebianPackages(progress: Progress, set: DebianSet = 'tests'): void {
  const missing = Object.entries(debianSet(set))
    .filter(([, bin]) => !existsSync(bin))
    .map(([pkg]) => pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `missing Debian packages: ${missing.join(' ')}; install them with ` +
        `\`sudo apt-get install -y --no-install-recommends ${missing.join(' ')}\``,
    );
  }
  progress(`installing Debian packages: ${missing.join(' ')} (apt-get, about a minute)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
