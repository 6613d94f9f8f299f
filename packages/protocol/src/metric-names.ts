/**
 * Metric names read outside the service that exports them: the operator's autoscaler, the
 * cdk8s alert rules, the bench and the tests. Defined once so a rename is one edit.
 */

/**
 * Gauge of open, authenticated WebSocket connections on one gateway: the gateway exports it,
 * the operator's autoscaler scales on it, the dashboards and alerts sum it.
 */
export const GATEWAY_CONNECTIONS_METRIC = 'gossip_gateway_connections';
