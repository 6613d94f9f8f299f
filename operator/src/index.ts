/** @gossip/operator: the GossipCluster controller and its watch/queue/leader machinery. */
export { loadConfig, type OperatorConfig } from './config.js';
export { GossipOperator, OWNED_KINDS } from './operator.js';
export { OperatorMetrics } from './metrics.js';
export { operatorOps } from './ops.js';
export { Informer, objectKey } from './informer/informer.js';
export { kubeSource } from './informer/source.js';
export { LeaderElector, type LeaseClient } from './leader/lease.js';
export * from './workqueue/index.js';
export * from './controller/conditions.js';
export { computeStatus, statusChanged } from './controller/status.js';
export { DONE, TerminalError, type ReconcileResult } from './controller/result.js';
export { pauseReason, PAUSE_ANNOTATION } from './controller/pause.js';
