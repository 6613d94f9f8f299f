/**
 * Server-side apply that sends the object exactly as built.
 *
 * `KubernetesObjectApi.patch` first runs the body through the generated models'
 * serializer, which silently drops any field the client's models do not know (we lost
 * a CRD's `x-kubernetes-validations` that way, and an applied object missing a field
 * means server-side apply *removes* it). This subclass keeps the same URL building,
 * auth and response handling, but puts `JSON.stringify(object)` on the wire.
 */
import {
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';

export class ApplyApi extends KubernetesObjectApi {
  static forConfig(kc: KubeConfig): ApplyApi {
    const api = kc.makeApiClient(ApplyApi);
    api.setDefaultNamespace(kc);
    return api;
  }

  /** `PATCH` with `application/apply-patch+yaml`, `fieldManager` and `force=true`. */
  async apply<T extends KubernetesObject>(object: T, fieldManager: string): Promise<T> {
    const path = await this.specUriPath(structuredClone(object), 'patch');
    const ctx = this.configuration.baseServer.makeRequestContext(path, 'PATCH' as never);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('Content-Type', PatchStrategy.ServerSideApply);
    ctx.setQueryParam('fieldManager', fieldManager);
    ctx.setQueryParam('force', 'true');
    ctx.setBody(JSON.stringify(object));
    return this.requestPromise<T>(ctx);
  }
}
