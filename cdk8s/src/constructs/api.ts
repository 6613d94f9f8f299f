/**
 * The api service: REST for accounts, sessions, the key directory, profiles (avatars),
 * contacts and attachment uploads and downloads. (Messages and their history are the engine's and the gateway's, not the api's.)
 */
import { DEFAULT_MONGO_DB } from '@gossip/protocol';
import { Construct } from 'constructs';
import { trustProxyEnv } from '../api/trust-proxy.js';
import { AppWorkload } from './app-workload.js';
import type { ClusterContext } from './context.js';
import { connectionSecret, jwtSecret } from './context.js';
import { opsPorts, ports } from './naming.js';

export interface GossipApiProps {
  /** The cluster this api belongs to. */
  readonly cluster: ClusterContext;
}

/** Deployment, Service and config of the api (env per the shared `API_*` contract). */
export class GossipApi extends Construct {
  readonly workload: AppWorkload;

  constructor(scope: Construct, id: string, props: GossipApiProps) {
    super(scope, id);
    const { cluster } = props;
    this.workload = new AppWorkload(this, 'Workload', {
      cluster,
      component: 'api',
      opsPort: opsPorts.api,
      replicas: cluster.spec.api.replicas,
      resources: cluster.spec.api.resources,
      config: {
        API_PORT: String(ports.api),
        API_HOST: '0.0.0.0',
        API_OPS_PORT: String(opsPorts.api),
        // The OpenAPI UI is for development; it stays off in a deployed cluster.
        API_DOCS: 'false',
        API_MONGO_DB: DEFAULT_MONGO_DB,
        API_LOG_LEVEL: cluster.spec.logLevel,
        API_TRUST_PROXY: trustProxyEnv(cluster.spec.trustProxy),
        API_ATTACHMENT_MAX_BYTES: String(cluster.spec.attachments.maxBytes),
        API_ATTACHMENT_QUOTA_BYTES: String(cluster.spec.attachments.quotaBytes),
        API_ATTACHMENT_RETENTION_SECONDS: String(cluster.spec.attachments.retentionSeconds),
        API_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS: String(
          cluster.spec.attachments.uploadTimeoutSeconds,
        ),
      },
      secretEnv: {
        API_MONGO_URL: connectionSecret(cluster, 'mongodb', 'api'),
        API_REDIS_URL: connectionSecret(cluster, 'redis', 'api'),
        API_JWT_PRIVATE_KEYS: jwtSecret(cluster),
      },
    });
  }
}
