/**
 * @gossip/cdk8s: the GossipCluster API (types, schema, CRD) and the pure builders that turn a
 * GossipCluster into the Kubernetes objects it needs. The operator imports everything from here.
 */
export * from './api/v1alpha1.js';
// The operator's autoscaler reads this gauge; it has no dependency on @gossip/protocol.
export { GATEWAY_CONNECTIONS_METRIC } from '@gossip/protocol';
export * from './api/backing-services.js';
export * from './api/status.js';
export * from './api/rules.js';
export * from './api/validate.js';
export { Defaulted, StringEnum, Resources } from './api/schema-helpers.js';
export type { Resolved, TDefaulted } from './api/schema-helpers.js';
export { gossipClusterCrd, printerColumns, toStructuralSchema } from './crd.js';
export { crdFile, crdReferenceFile, renderCrdYaml, writeCrdFile } from './crd-cli.js';
export {
  CRD_TABLE_END,
  CRD_TABLE_START,
  operatorDocsPath,
  renderCrdReference,
  renderCrdTable,
  withCrdTable,
} from './crd-reference.js';
export { gossipClusterCrdForClient, installGossipClusterCrd } from './crd-install.js';
export {
  buildClusterObjects,
  buildResolvedObjects,
  ownerReferenceFor,
  resolveCluster,
} from './build.js';
export type { BuildOptions } from './build.js';
export * from './constructs/naming.js';
export * from './constructs/context.js';
export * from './constructs/kube-object.js';
export * from './constructs/generated-secrets.js';
export * from './constructs/store-rights.js';
export { toKubeResources } from './constructs/kube-helpers.js';
export { AppWorkload, appUser } from './constructs/app-workload.js';
export type { AppWorkloadProps } from './constructs/app-workload.js';
export { GossipApi } from './constructs/api.js';
export type { GossipApiProps } from './constructs/api.js';
export { GossipGateway, gatewayReplicas } from './constructs/gateway.js';
export type { GossipGatewayProps } from './constructs/gateway.js';
export { GossipEngine } from './constructs/engine.js';
export type { GossipEngineProps } from './constructs/engine.js';
export { GatewayDisruptionBudget } from './constructs/gateway-pdb.js';
export type { GatewayDisruptionBudgetProps } from './constructs/gateway-pdb.js';
export { ManagedStore, storeUser } from './constructs/managed-store.js';
export type { ManagedStoreProps } from './constructs/managed-store.js';
export { ManagedRabbitmq } from './constructs/rabbitmq.js';
export { ManagedMongodb } from './constructs/mongodb.js';
export { ManagedRedis } from './constructs/redis.js';
export { GossipMonitoring } from './constructs/monitoring.js';
export { GossipNetworkPolicies } from './constructs/network-policies.js';
export type { GossipNetworkPoliciesProps } from './constructs/network-policies.js';
export * from './constructs/network-rules.js';
export { LabelMap, NetworkPolicySpec } from './api/network-policy.js';
export { IngressSpec } from './api/ingress.js';
export { GossipIngress, ingressPaths } from './constructs/ingress.js';
export type { GossipIngressProps } from './constructs/ingress.js';
export { GossipClusterChart } from './constructs/cluster-chart.js';
export type { GossipClusterChartProps } from './constructs/cluster-chart.js';
export { runSynth, toYamlStream } from './synth-cli.js';
