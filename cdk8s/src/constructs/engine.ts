/**
 * The engine: consumes accepted messages, stores them, fans them out, expires them; deletes
 * attachments once acked and sweeps expired ones.
 */
import { DEFAULT_MONGO_DB } from '@gossip/protocol';
import { Construct } from 'constructs';
import { AppWorkload } from './app-workload.js';
import type { ClusterContext } from './context.js';
import { connectionSecret } from './context.js';
import { ports } from './naming.js';

export interface GossipEngineProps {
  /** The cluster this engine belongs to. */
  readonly cluster: ClusterContext;
}

/** Deployment, Service (metrics and probes) and config of the engine (`ENGINE_*` contract). */
export class GossipEngine extends Construct {
  readonly workload: AppWorkload;

  constructor(scope: Construct, id: string, props: GossipEngineProps) {
    super(scope, id);
    const { cluster } = props;
    this.workload = new AppWorkload(this, 'Workload', {
      cluster,
      component: 'engine',
      replicas: cluster.spec.engine.replicas,
      resources: cluster.spec.engine.resources,
      config: {
        ENGINE_PORT: String(ports.engine),
        ENGINE_MONGO_DB: DEFAULT_MONGO_DB,
        ENGINE_RETENTION_SECONDS: String(cluster.spec.retention.messageSeconds),
        ENGINE_EVENT_RETENTION_SECONDS: String(cluster.spec.retention.contactEventSeconds),
        ENGINE_RECEIPT_RETENTION_SECONDS: String(cluster.spec.retention.receiptSeconds),
        ENGINE_ATTACHMENT_RETENTION_SECONDS: String(cluster.spec.attachments.retentionSeconds),
        ENGINE_ATTACHMENT_UPLOAD_TIMEOUT_SECONDS: String(
          cluster.spec.attachments.uploadTimeoutSeconds,
        ),
        ENGINE_LOG_LEVEL: cluster.spec.logLevel,
      },
      secretEnv: {
        ENGINE_AMQP_URL: connectionSecret(cluster, 'rabbitmq', 'engine'),
        ENGINE_MONGO_URL: connectionSecret(cluster, 'mongodb', 'engine'),
        ENGINE_REDIS_URL: connectionSecret(cluster, 'redis', 'engine'),
      },
    });
  }
}
