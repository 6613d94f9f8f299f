/** The managed Redis: pod 0 is the primary, further pods replicate it. */
import { Construct } from 'constructs';
import type { ClusterContext } from './context.js';
import { ManagedStore } from './managed-store.js';
import { generatedSecretNames, namesFor, ports } from './naming.js';
import { execProbe, fromSecret, podName, tcpProbe } from './kube-helpers.js';

export interface ManagedRedisProps {
  /** The cluster whose `spec.redis.managed` this realises. */
  readonly cluster: ClusterContext;
}

/**
 * Redis from the official image with AOF persistence. The password reaches redis-server
 * through a config file in /tmp, not its command line. The client Service selects pod 0 only,
 * so writes always reach the primary.
 */
export class ManagedRedis extends Construct {
  /** The container's start script (exported for tests that run it with a stand-in server). */
  readonly script: string;

  constructor(scope: Construct, id: string, props: ManagedRedisProps) {
    super(scope, id);
    const { cluster } = props;
    const spec = cluster.spec.redis.managed;
    if (!spec) throw new Error('ManagedRedis needs spec.redis.managed');
    const names = namesFor(cluster.name);
    const primary = `${names.store('redis')}-0`;
    const primaryHost = `${primary}.${names.headless('redis')}.${cluster.namespace}.svc`;
    this.script = [
      'set -eu',
      'conf="${TMPDIR:-/tmp}/redis.conf"',
      `printf 'requirepass %s\\nmasterauth %s\\n' "$REDIS_PASSWORD" "$REDIS_PASSWORD" > "$conf"`,
      `if [ "$POD_NAME" = "${primary}" ]; then set --; else set -- --replicaof ${primaryHost} ${ports.redis}; fi`,
      'exec redis-server "$conf" --dir /data --appendonly yes "$@"',
    ].join('\n');
    new ManagedStore(this, 'Store', {
      cluster,
      service: 'redis',
      spec,
      image: `redis:${spec.version}`,
      clientPorts: [{ name: 'redis', port: ports.redis }],
      dataPath: '/data',
      command: ['sh', '-c', this.script],
      env: [
        podName(),
        fromSecret('REDIS_PASSWORD', generatedSecretNames(cluster.name).redis, 'password'),
      ],
      livenessProbe: { ...tcpProbe(ports.redis, 20), initialDelaySeconds: 5 },
      readinessProbe: execProbe(
        ['sh', '-c', 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 ping | grep -q PONG'],
        10,
        5,
      ),
      clientSelector: { 'statefulset.kubernetes.io/pod-name': primary },
    });
  }
}
