/**
 * @gossip/cdk8s: the GossipCluster API (types, schema, CRD) and the pure builders that turn a
 * GossipCluster into the Kubernetes objects it needs. The operator imports everything from here.
 */
export * from './api/v1alpha1.js';
export * from './api/status.js';
export * from './api/rules.js';
export * from './api/validate.js';
export { Defaulted, StringEnum, Resources } from './api/schema-helpers.js';
export type { Resolved, TDefaulted } from './api/schema-helpers.js';
export { gossipClusterCrd, printerColumns, toStructuralSchema } from './crd.js';
export { crdFile, renderCrdYaml } from './crd-yaml.js';
