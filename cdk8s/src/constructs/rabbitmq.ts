/** The managed RabbitMQ: one node, or a cluster formed from the StatefulSet's stable names. */
import { Construct } from 'constructs';
import type { ClusterContext } from './context.js';
import { ManagedStore } from './managed-store.js';
import { generatedSecretNames, namesFor, passwordKeyOf, peerPorts, ports } from './naming.js';
import { execProbe, fromSecret, podName } from './kube-helpers.js';
import { rabbitmqDefinitions, storeClients } from './store-rights.js';

/** Where the start script writes the definitions file that `load_definitions` names. */
const definitionsPath = '/tmp/gossip-definitions.json';

/** The env var holding `component`'s RabbitMQ password in the broker's container. */
function passwordEnv(component: string): string {
  return `GOSSIP_${component.toUpperCase()}_PASSWORD`;
}

/**
 * The container's start script: the definitions file (vhost, one user per component and
 * their permissions, store-rights.ts) with the passwords from the environment filled in,
 * written to /tmp, then the image's own entrypoint. RabbitMQ imports the file at every boot,
 * so new rights and users reach an existing broker with its next restart.
 */
export function rabbitmqStartScript(): string {
  const placeholder = (c: string) => `@${c.toUpperCase()}_PASSWORD@`;
  const template = JSON.stringify(
    rabbitmqDefinitions({
      passwords: Object.fromEntries(storeClients.rabbitmq.map((c) => [c, placeholder(c)])) as {
        gateway: string;
        engine: string;
      },
    }),
    null,
    2,
  );
  const vars = storeClients.rabbitmq.map((c) => passwordEnv(c));
  return [
    'set -eu',
    // The passwords go into JSON and a sed replacement: only URL-safe base64 is accepted.
    `for p in ${vars.map((v) => `"$${v}"`).join(' ')}; do`,
    `  case "$p" in ''|*[!A-Za-z0-9_-]*) echo 'a RabbitMQ user password must be [A-Za-z0-9_-]+' >&2; exit 1;; esac`,
    'done',
    'umask 077',
    `sed ${storeClients.rabbitmq.map((c) => `-e "s/${placeholder(c)}/$${passwordEnv(c)}/"`).join(' ')} > ${definitionsPath} <<'GOSSIP_EOF'`,
    template,
    'GOSSIP_EOF',
    'exec docker-entrypoint.sh rabbitmq-server',
  ].join('\n');
}

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
      command: ['sh', '-c', rabbitmqStartScript()],
      configPath: '/etc/rabbitmq/conf.d',
      configFiles: {
        '20-gossip.conf': [
          'cluster_formation.peer_discovery_backend = classic_config',
          ...nodes,
          `load_definitions = ${definitionsPath}`,
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
        ...storeClients.rabbitmq.map((c) =>
          fromSecret(
            passwordEnv(c),
            generatedSecretNames(cluster.name)['rabbitmq-users'],
            passwordKeyOf(c),
          ),
        ),
      ],
      livenessProbe: {
        ...execProbe(['rabbitmq-diagnostics', '-q', 'ping'], 30, 15),
        initialDelaySeconds: 30,
      },
      readinessProbe: execProbe(['rabbitmq-diagnostics', '-q', 'check_port_connectivity'], 10, 15),
    });
  }
}
