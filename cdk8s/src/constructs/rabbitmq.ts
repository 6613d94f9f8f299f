/** The managed RabbitMQ: one node, or a cluster formed from the StatefulSet's stable names. */
import { Construct } from 'constructs';
import type { ClusterContext } from './context.js';
import { ManagedStore } from './managed-store.js';
import { generatedSecretNames, namesFor, peerPorts, ports } from './naming.js';
import { execProbe, fromSecret, podName } from './kube-helpers.js';

export interface ManagedRabbitmqProps {
  /** The cluster whose `spec.rabbitmq.managed` this realises. */
  readonly cluster: ClusterContext;
}

/**
 * RabbitMQ from the official image. Nodes use long names
 * (`rabbit@<pod>.<headless>.<ns>.svc.cluster.local`) and classic-config peer discovery over
 * every ordinal, so `replicas > 1` forms a cluster (quorum queues then replicate across it).
 */
export class ManagedRabbitmq extends Construct {
  constructor(scope: Construct, id: string, props: ManagedRabbitmqProps) {
    super(scope, id);
    const { cluster } = props;
    const spec = cluster.spec.rabbitmq.managed;
    if (!spec) throw new Error('ManagedRabbitmq needs spec.rabbitmq.managed');
    const secret = generatedSecretNames(cluster.name).rabbitmq;
    const domain = `${namesFor(cluster.name).headless('rabbitmq')}.${cluster.namespace}.svc.cluster.local`;
    const sts = namesFor(cluster.name).store('rabbitmq');
    const nodes = Array.from(
      { length: spec.replicas },
      (_, i) => `cluster_formation.classic_config.nodes.${i + 1} = rabbit@${sts}-${i}.${domain}`,
    );
    new ManagedStore(this, 'Store', {
      cluster,
      service: 'rabbitmq',
      spec,
      // The -management image enables the management plugin; the plain one has it off.
      image: `rabbitmq:${spec.version}${cluster.spec.rabbitmq.managed?.management ? '-management' : ''}`,
      clientPorts: [{ name: 'amqp', port: ports.rabbitmq }],
      peerPorts: [
        { name: 'epmd', port: peerPorts.rabbitmq[0] },
        { name: 'dist', port: peerPorts.rabbitmq[1] },
      ],
      dataPath: '/var/lib/rabbitmq',
      configPath: '/etc/rabbitmq/conf.d',
      configFiles: {
        '20-gossip.conf': [
          'cluster_formation.peer_discovery_backend = classic_config',
          ...nodes,
          '',
        ].join('\n'),
      },
      env: [
        podName(),
        { name: 'RABBITMQ_USE_LONGNAME', value: 'true' },
        { name: 'RABBITMQ_NODENAME', value: `rabbit@$(POD_NAME).${domain}` },
        fromSecret('RABBITMQ_DEFAULT_USER', secret, 'username'),
        fromSecret('RABBITMQ_DEFAULT_PASS', secret, 'password'),
        fromSecret('RABBITMQ_ERLANG_COOKIE', secret, 'erlang-cookie'),
      ],
      livenessProbe: {
        ...execProbe(['rabbitmq-diagnostics', '-q', 'ping'], 30, 15),
        initialDelaySeconds: 30,
      },
      readinessProbe: execProbe(['rabbitmq-diagnostics', '-q', 'check_port_connectivity'], 10, 15),
    });
  }
}
