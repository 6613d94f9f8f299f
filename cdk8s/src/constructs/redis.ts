/** The managed Redis: pod 0 is the primary, further pods replicate it. */
import { Construct } from 'constructs';
import type { ClusterContext } from './context.js';
import { ManagedStore } from './managed-store.js';
import { generatedSecretNames, namesFor, passwordKeyOf, ports } from './naming.js';
import { execProbe, fromSecret, podName, tcpProbe } from './kube-helpers.js';
import { redisAclFile, storeClients, type RedisClient } from './store-rights.js';

/** The users of the aclfile besides the components. */
const replicationUser = 'replication';

/** The env var holding `user`'s Redis password in the server's container. */
function passwordEnv(user: string): string {
  return `GOSSIP_${user.toUpperCase()}_PASSWORD`;
}

export interface ManagedRedisProps {
  /** The cluster whose `spec.redis.managed` this realises. */
  readonly cluster: ClusterContext;
}

/**
 * Redis from the official image with AOF persistence and ACL users (store-rights.ts): the
 * start script writes the config and the aclfile to /tmp with the passwords from the
 * environment (never on the command line); the default user is off. Replicas and the
 * readiness probe use the `replication` user. The client Service selects pod 0 only, so
 * writes always reach the primary.
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
    const users = [...storeClients.redis, replicationUser];
    const placeholder = (u: string) => `@${u.toUpperCase()}_PASSWORD@`;
    const acl = redisAclFile({
      passwords: Object.fromEntries(users.map((u) => [u, placeholder(u)])) as Record<
        RedisClient | typeof replicationUser,
        string
      >,
    });
    const vars = users.map(passwordEnv);
    this.script = [
      'set -eu',
      // The passwords go into the aclfile through sed: only URL-safe base64 is accepted.
      `for p in ${vars.map((v) => `"$${v}"`).join(' ')}; do`,
      `  case "$p" in ''|*[!A-Za-z0-9_-]*) echo 'a Redis user password must be [A-Za-z0-9_-]+' >&2; exit 1;; esac`,
      'done',
      'umask 077',
      'conf="${TMPDIR:-/tmp}/redis.conf"',
      'acl="${TMPDIR:-/tmp}/users.acl"',
      `sed ${users.map((u) => `-e "s/${placeholder(u)}/$${passwordEnv(u)}/"`).join(' ')} > "$acl" <<'GOSSIP_EOF'`,
      acl.trimEnd(),
      'GOSSIP_EOF',
      `printf 'aclfile %s\\nmasteruser ${replicationUser}\\nmasterauth %s\\n' "$acl" "$${passwordEnv(replicationUser)}" > "$conf"`,
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
        ...users.map((u) =>
          fromSecret(
            passwordEnv(u),
            generatedSecretNames(cluster.name)['redis-users'],
            passwordKeyOf(u),
          ),
        ),
      ],
      livenessProbe: { ...tcpProbe(ports.redis, 20), initialDelaySeconds: 5 },
      readinessProbe: execProbe(
        [
          'sh',
          '-c',
          `REDISCLI_AUTH="$${passwordEnv(replicationUser)}" redis-cli --user ${replicationUser} -h 127.0.0.1 ping | grep -q PONG`,
        ],
        10,
        5,
      ),
      clientSelector: { 'statefulset.kubernetes.io/pod-name': primary },
    });
  }
}
