/**
 * A Prometheus that can discover Kubernetes targets, for the cluster suite's Prometheus test.
 * Debian's prometheus 2.42 (what `up` runs for the other tests) is built without Kubernetes
 * service discovery (`field kubernetes_sd_configs not found in type config.ScrapeConfig`),
 * so this one is built from the Go module proxy at a pinned version, with only the file,
 * http and Kubernetes discovery plugins (the upstream `remove_all_sd` and
 * `enable_kubernetes_sd` build tags), into the testenv cache, once per machine.
 */
import { join } from 'node:path';
import { buildOnce, cacheRoot, goInstall, type Progress } from './build-cache.js';

/** The github.com/prometheus/prometheus module version of Prometheus 3.16.0 (upstream's v0.3xx scheme). */
export const KUBE_PROMETHEUS_MODULE_VERSION = 'v0.316.0';
export const KUBE_PROMETHEUS_VERSION = '3.16.0';

const TAGS = 'remove_all_sd,enable_kubernetes_sd';

export interface KubePrometheus {
  prometheus: string;
  promtool: string;
}

/** Where the build lands (whether or not it is there yet). */
export function kubePrometheusPaths(): KubePrometheus & { dir: string } {
  const dir = join(cacheRoot(), `prometheus-k8s-sd-${KUBE_PROMETHEUS_MODULE_VERSION}`);
  return { dir, prometheus: join(dir, 'prometheus'), promtool: join(dir, 'promtool') };
}

/**
 * Builds prometheus and promtool unless the cache has them (first run: several minutes on
 * 2 cores); several processes may call it at once, one builds and the others wait.
 */
export async function ensureKubePrometheus(progress: Progress): Promise<KubePrometheus> {
  const p = kubePrometheusPaths();
  const mod = 'github.com/prometheus/prometheus';
  await buildOnce(
    p.dir,
    {
      announce: `building Prometheus ${KUBE_PROMETHEUS_MODULE_VERSION} with Kubernetes discovery from the Go module proxy (first run only, several minutes)`,
      // Its own lock, as before: a Prometheus build need not wait for a control plane build.
      lockDir: p.dir,
    },
    () =>
      goInstall(
        [
          `${mod}/cmd/prometheus@${KUBE_PROMETHEUS_MODULE_VERSION}`,
          `${mod}/cmd/promtool@${KUBE_PROMETHEUS_MODULE_VERSION}`,
        ],
        {
          gobin: p.dir,
          what: 'Prometheus',
          // Stamped as upstream's release does, so `prometheus --version` says what it is.
          ldflags: `-X github.com/prometheus/common/version.Version=${KUBE_PROMETHEUS_VERSION}`,
          tags: TAGS,
          nice: true,
        },
        progress,
      ),
    progress,
  );
  return p;
}
