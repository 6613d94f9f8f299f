/** The API clients the operator uses, made once from one KubeConfig. */
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { ApplyApi } from './apply-api.js';

export interface KubeClients {
  kc: KubeConfig;
  /** Generic CRUD and server-side apply for any kind. */
  objects: ApplyApi;
  /** GossipCluster reads and its status subresource. */
  custom: CustomObjectsApi;
  /** Secrets and Events. */
  core: CoreV1Api;
}

/** From `path` if given; else in-cluster service account or `~/.kube/config`. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export function makeClients(kc: KubeConfig): KubeClients {
  return {
    kc,
    objects: ApplyApi.forConfig(kc),
    custom: kc.makeApiClient(CustomObjectsApi),
    core: kc.makeApiClient(CoreV1Api),
  };
}

/** The one field manager for everything the operator applies. */
export const FIELD_MANAGER = 'gossip-operator';
