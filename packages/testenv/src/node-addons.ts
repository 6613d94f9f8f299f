/**
 * The node's add-ons, applied once it is Ready: CoreDNS (Service kube-dns at the fixed DNS
 * IP) and local-path-provisioner (the default StorageClass), both from the local images.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { NODE_IMAGES, NODE_NET, type NodePaths } from './node-layout.js';

const COREFILE = `.:53 {
    errors
    health :8080
    ready :8181
    kubernetes ${NODE_NET.clusterDomain} in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
}
`;

/** CoreDNS (Service kube-dns at the fixed DNS IP) and local-path-provisioner (the default StorageClass). */
export function nodeAddons(p: NodePaths, localPathManifest: string): unknown {
  const ns = 'kube-system';
  const labels = { 'k8s-app': 'kube-dns' };
  const coredns = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints', 'services', 'pods', 'namespaces'],
          verbs: ['list', 'watch'],
        },
        {
          apiGroups: ['discovery.k8s.io'],
          resources: ['endpointslices'],
          verbs: ['list', 'watch'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'system:coredns',
      },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: ns }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'coredns', namespace: ns },
      data: { Corefile: COREFILE },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: ns, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            // The host's resolver for names outside the cluster.
            dnsPolicy: 'Default',
            terminationGracePeriodSeconds: 0,
            containers: [
              {
                name: 'coredns',
                image: NODE_IMAGES.coredns,
                imagePullPolicy: 'Never',
                args: ['-conf', '/etc/coredns/Corefile'],
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 1 },
                livenessProbe: { httpGet: { path: '/health', port: 8080 }, periodSeconds: 10 },
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns' }],
              },
            ],
            volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: ns, labels },
      spec: {
        clusterIP: NODE_NET.dnsIp,
        selector: labels,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        ],
      },
    },
  ];
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [...coredns, ...localPath(p, localPathManifest)],
  };
}

/**
 * The provisioner's own manifest from its pinned module (deploy/local-path-storage.yaml),
 * with the local images, volumes under the node's folder, and its StorageClass the default
 * (the operator's StatefulSets name no class).
 */
function localPath(p: NodePaths, manifest: string): unknown[] {
  interface Doc {
    kind?: string;
    metadata: { annotations?: Record<string, string> };
    spec?: {
      template: {
        spec: {
          terminationGracePeriodSeconds?: number;
          containers: { image: string; imagePullPolicy: string }[];
        };
      };
    };
    data?: Record<string, string>;
  }
  const docs = parseAllDocuments(readFileSync(manifest, 'utf8'))
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);
  for (const d of docs) {
    if (d.kind === 'Deployment' && d.spec) {
      const spec = d.spec.template.spec;
      spec.terminationGracePeriodSeconds = 0;
      spec.containers[0]!.image = NODE_IMAGES.localPath;
      spec.containers[0]!.imagePullPolicy = 'Never';
    }
    if (d.kind === 'StorageClass') {
      d.metadata.annotations = { 'storageclass.kubernetes.io/is-default-class': 'true' };
    }
    if (d.kind === 'ConfigMap' && d.data) {
      d.data['config.json'] = JSON.stringify({
        nodePathMap: [{ node: 'DEFAULT_PATH_FOR_NON_LISTED_NODES', paths: [p.localPathDir] }],
      });
      d.data['helperPod.yaml'] = String(d.data['helperPod.yaml']).replace(
        'image: busybox',
        `image: ${NODE_IMAGES.busybox}`,
      );
    }
  }
  return docs;
}
