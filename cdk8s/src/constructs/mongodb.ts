/** The managed MongoDB: a single mongod with a root user from the generated Secret. */
import { Construct } from 'constructs';
import type { ClusterContext } from './context.js';
import { ManagedStore } from './managed-store.js';
import { generatedSecretNames, ports } from './naming.js';
import { execProbe, fromSecret, tcpProbe } from './kube-helpers.js';

export interface ManagedMongodbProps {
  /** The cluster whose `spec.mongodb.managed` this realises. */
  readonly cluster: ClusterContext;
}

/**
 * MongoDB from the official image. `replicas` is fixed at 1 by the CRD for now: a replica set
 * also needs `rs.initiate` and member management (see api/rules.ts).
 */
export class ManagedMongodb extends Construct {
  constructor(scope: Construct, id: string, props: ManagedMongodbProps) {
    super(scope, id);
    const { cluster } = props;
    const spec = cluster.spec.mongodb.managed;
    if (!spec) throw new Error('ManagedMongodb needs spec.mongodb.managed');
    const secret = generatedSecretNames(cluster.name).mongodb;
    new ManagedStore(this, 'Store', {
      cluster,
      service: 'mongodb',
      spec,
      image: `mongo:${spec.version}`,
      clientPorts: [{ name: 'mongodb', port: ports.mongodb }],
      dataPath: '/data/db',
      scratchPaths: ['/data/configdb'],
      env: [
        fromSecret('MONGO_INITDB_ROOT_USERNAME', secret, 'username'),
        fromSecret('MONGO_INITDB_ROOT_PASSWORD', secret, 'password'),
      ],
      livenessProbe: { ...tcpProbe(ports.mongodb, 20), initialDelaySeconds: 10 },
      readinessProbe: execProbe(
        ['mongosh', '--quiet', '--norc', '--eval', "db.adminCommand('ping').ok"],
        10,
      ),
    });
  }
}
