/**
 * The node's NetworkPolicy enforcement: kube-router's network-policy controller alone
 * (`--run-firewall`, without its router and service proxy, which kube-proxy and the CNI
 * bridge already are), built from the Go module proxy at a pinned version into the cache
 * like the other parts. It programs iptables (here the nf_tables backend, iptables-nft from
 * Debian) and ipsets (ipset from Debian): a chain per pod that a policy selects, fed by the
 * bridge's traffic (bridge-nf-call-iptables). kube-network-policies, the first
 * choice, needs NFQUEUE in the kernel (CONFIG_NFT_QUEUE), which this machine kind lacks.
 *
 * What it leaves on the host (its chains in the `ip filter` table, its ipsets) is undone with
 * everything else the node changed (host.ts): the snapshot records ipsets and chains too.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { buildOnce, cacheRoot, goInstall, type Progress } from './build-cache.js';
import type { ControlPlane, NodeControlPlane } from './kube.js';
import { daemon, type Ctx, waitFor } from './servers.js';
import type { ServerRecord } from './state.js';

/** github.com/cloudnativelabs/kube-router/v2: the newest version the module proxy lists. */
export const KUBE_ROUTER_VERSION = 'v2.1.0';

const MODULE = 'github.com/cloudnativelabs/kube-router/v2';

/** The chain kube-router hooks into FORWARD; once it exists, policies are enforced. */
export const POLICY_FORWARD_CHAIN = 'KUBE-ROUTER-FORWARD';

/** Builds kube-router once per machine and version (static, version stamped) and returns its path. */
export async function ensurePolicyController(progress: Progress): Promise<string> {
  const dir = join(cacheRoot(), `kube-router-${KUBE_ROUTER_VERSION}`);
  await buildOnce(
    dir,
    {
      announce: `building kube-router ${KUBE_ROUTER_VERSION} from the Go module proxy (first run only, a few minutes)`,
    },
    () =>
      goInstall(
        [`${MODULE}/cmd/kube-router@${KUBE_ROUTER_VERSION}`],
        {
          gobin: dir,
          what: 'kube-router',
          ldflags: `-X ${MODULE}/pkg/version.Version=${KUBE_ROUTER_VERSION}`,
          nice: true,
        },
        progress,
      ),
    progress,
  );
  return join(dir, 'kube-router');
}

/** Whether kube-router's FORWARD chain is in the filter table (iptables-nft). */
function chainExists(chain: string): boolean {
  try {
    execFileSync('iptables', ['-w', '5', '-t', 'filter', '-S', chain], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts kube-router's network-policy controller for `node` and resolves once its chains are
 * hooked into the filter table. Health and metrics servers stay off: kube-router binds them
 * on every interface, and the chain is the readiness that matters here.
 */
export async function startPolicyController(
  ctx: Ctx,
  cp: ControlPlane,
  node: NodeControlPlane,
  bin: string,
  serviceCidr: string,
): Promise<ServerRecord> {
  const rec = daemon(
    'kube-router',
    bin,
    [
      '--run-firewall=true',
      '--run-router=false',
      '--run-service-proxy=false',
      `--kubeconfig=${cp.kubeconfig}`,
      `--hostname-override=${node.name}`,
      `--service-cluster-ip-range=${serviceCidr}`,
      '--health-port=0',
      '--metrics-port=0',
      '--v=1',
    ],
    { logDir: ctx.logDir },
  );
  await waitFor(rec, async () => chainExists(POLICY_FORWARD_CHAIN), 60_000);
  return rec;
}
