/**
 * Where an informer gets its objects: one list call (paged) and one watch call, over
 * @kubernetes/client-node. Kept behind an interface so the informer's recovery logic is
 * unit tested with a scripted source.
 */
import {
  KubernetesObjectApi,
  Watch,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';

export interface ListResult {
  items: KubernetesObject[];
  resourceVersion: string;
}

/** A raw watch event as the API server sends it. */
export interface WatchEvent {
  type: string;
  object: KubernetesObject & { code?: number };
}

export interface ListWatchSource {
  /** A human name for logs, like `apps/v1 Deployment`. */
  readonly description: string;
  list(): Promise<ListResult>;
  /**
   * Starts a watch from `resourceVersion`. `onEvent` gets every event; `onDone` is called
   * exactly once when the stream ends (`null`: closed by the server) or fails.
   * Returns a function that aborts the watch.
   */
  watch(
    resourceVersion: string,
    onEvent: (event: WatchEvent) => void,
    onDone: (err: unknown) => void,
  ): Promise<() => void>;
}

export interface ResourceType {
  apiVersion: string;
  kind: string;
  /** Lower-case plural used in URLs. */
  plural: string;
}

export interface KubeSourceOptions {
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  /** Server-side watch timeout; the server closes the stream after it (client-go: 5-10 min). */
  timeoutSeconds?: number;
}

/** A list+watch source for one resource type, in one namespace or all. */
export function kubeSource(
  kc: KubeConfig,
  type: ResourceType,
  opts: KubeSourceOptions = {},
): ListWatchSource {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const watcher = new Watch(kc);
  const root = type.apiVersion.includes('/')
    ? `/apis/${type.apiVersion}`
    : `/api/${type.apiVersion}`;
  const path = opts.namespace
    ? `${root}/namespaces/${encodeURIComponent(opts.namespace)}/${type.plural}`
    : `${root}/${type.plural}`;
  return {
    description: `${type.apiVersion} ${type.kind}`,
    async list() {
      const items: KubernetesObject[] = [];
      let continueToken: string | undefined;
      let resourceVersion = '';
      do {
        const page = await objects.list(
          type.apiVersion,
          type.kind,
          opts.namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          opts.labelSelector,
          500,
          continueToken,
        );
        for (const item of page.items) {
          items.push({ ...item, apiVersion: type.apiVersion, kind: type.kind });
        }
        resourceVersion = page.metadata?.resourceVersion ?? '';
        continueToken = page.metadata?._continue || undefined;
      } while (continueToken);
      return { items, resourceVersion };
    },
    async watch(resourceVersion, onEvent, onDone) {
      // Spread the server-side timeouts so informers do not all reconnect together.
      const timeoutSeconds = opts.timeoutSeconds ?? 300 + Math.floor(Math.random() * 300);
      const controller = await watcher.watch(
        path,
        {
          resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds,
          labelSelector: opts.labelSelector,
        },
        (type: string, object: WatchEvent['object']) => onEvent({ type, object }),
        onDone,
      );
      return () => controller.abort();
    },
  };
}
