/** The pinned versions of what the test environment builds; changing one changes its cache folder, so it rebuilds. */
export const VERSIONS = {
  kubernetes: 'v1.37.2',
  helm: 'v3.22.0',
  ferretdb: 'v1.24.2',
  /** The node's cluster DNS (github.com/coredns/coredns). */
  coredns: 'v1.15.0',
  /** The node's dynamic volumes (github.com/rancher/local-path-provisioner). */
  localPath: 'v0.0.30',
  /** github.com/GoogleContainerTools/skaffold/v2, built only when `testenv skaffold` runs. */
  skaffold: 'v2.16.1',
} as const;
