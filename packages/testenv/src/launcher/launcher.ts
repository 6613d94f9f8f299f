/**
 * The one service launcher: runs the api, engines and gateways as real processes
 * (`node --import tsx services/<kind>/src/main.ts` from the repository root, as the
 * images run them) against given RabbitMQ, MongoDB and Redis, waits for each to be ready
 * and stops them. Used by the tests' stacks, `npm start`, the benchmarks and the chaos
 * suite; what differs between them (ports, log level, limits) is passed in, typed from
 * each service's own config schema ({@link VarsOf}).
 */
import { join } from 'node:path';
import { JWT_KEY_ENV } from '@gossip/protocol';
import { startProcess, type ManagedProcess } from '../process.js';
import { freePort } from '../servers.js';
import { repoRoot } from '../state.js';
import type { ApiVars, EngineVars, GatewayVars, ServiceKind, VarsOf } from './env.js';
import type { Watchdog } from './watchdog.js';

/** Where the backing servers are. */
export interface BackingUrls {
  amqpUrl: string;
  mongoUrl: string;
  redisUrl: string;
}

/** The names that keep one stack's data apart from another's on shared servers. */
export interface Isolation {
  mongoDb: string;
  amqpPrefix: string;
  redisPrefix: string;
}

/** The access-token keys: the api signs with the private set, gateways verify with the public one. */
export interface JwtKeySets {
  privateKeys: string;
  publicKeys: string;
}

export interface LauncherOptions {
  servers: BackingUrls;
  /** Each service writes `<logDir>/<name>.log` (appended across restarts). */
  logDir: string;
  jwtKeys: JwtKeySets;
  /** Unset: the services' defaults (database `gossip`, prefixes `gossip`). */
  isolation?: Isolation;
  /** Where the api's and gateways' public listeners bind. @default '127.0.0.1' */
  host?: string;
  /** Where the ops listeners (health, metrics, docs) and the engine bind. @default '127.0.0.1' */
  opsHost?: string;
  /** Extra node flags for every process (for example `--cpu-prof`). */
  nodeArgs?: string[];
  /**
   * Pass this process's environment on (`npm start`: the user's own `GATEWAY_*` and the
   * like still apply). Otherwise a service sees only PATH, HOME and what the launcher sets,
   * so a test's config comes from the test alone. @default false
   */
  inheritEnv?: boolean;
  /** @default 60000 */
  readyTimeoutMs?: number;
  /** Variables every service of a kind gets, under what each start call passes. */
  defaults?: { [K in ServiceKind]?: VarsOf[K] };
  /** Ends the services if this process dies without stopping them (a {@link Backing}'s). */
  guard?: Watchdog;
}

/** What a start call may choose; ports default to free ones. */
export interface StartOptions<V> {
  /** Its log file's name (and how {@link Launcher.logs} labels it). */
  name?: string;
  port?: number;
  /** The ops listener's port (api, gateway); the engine has one port only. */
  opsPort?: number;
  env?: V;
  /** Node flags for this process only, after the launcher's. */
  nodeArgs?: string[];
}

export interface Service {
  kind: ServiceKind;
  name: string;
  proc: ManagedProcess;
  port: number;
  /** http://<host>:port */
  url: string;
  /** The ops port: the api's and gateway's own, the engine's one port. */
  opsPort: number;
  /** Where `/metrics` is (the ops listener). */
  metricsUrl: string;
}

export interface GatewayService extends Service {
  instanceId: string;
  /** ws://<host>:port/ws */
  wsUrl: string;
}

/** A host a client on this machine can reach a listener of `bind` at. */
function reachable(bind: string): string {
  return bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind;
}

/** Drops the unset entries, so a caller can pass `undefined` to mean "the default". */
function defined(vars: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(vars).filter((e): e is [string, string] => e[1] !== undefined),
  );
}

export class Launcher {
  /** Every service ever started, in order (for {@link logs}). */
  readonly started: Service[] = [];
  private readonly exited = new Set<ManagedProcess>();
  private readonly host: string;
  private readonly opsHost: string;
  private gatewaySerial = 0;

  constructor(readonly opts: LauncherOptions) {
    this.host = opts.host ?? '127.0.0.1';
    this.opsHost = opts.opsHost ?? '127.0.0.1';
  }

  /** The services still running, in start order. */
  running(): Service[] {
    return this.started.filter((s) => !this.exited.has(s.proc));
  }

  private async start<K extends ServiceKind>(
    kind: K,
    name: string,
    port: number,
    opsPort: number,
    vars: VarsOf[K],
    o: StartOptions<VarsOf[K]>,
  ): Promise<Service> {
    const env = defined({ ...vars, ...this.opts.defaults?.[kind], ...o.env });
    const host = reachable(this.host);
    const proc = await startProcess({
      command: process.execPath,
      args: [
        ...(this.opts.nodeArgs ?? []),
        ...(o.nodeArgs ?? []),
        '--import',
        'tsx',
        `services/${kind}/src/main.ts`,
      ],
      cwd: repoRoot,
      cleanEnv: !this.opts.inheritEnv,
      env,
      readyUrl: `http://${host}:${port}/readyz`,
      readyTimeoutMs: this.opts.readyTimeoutMs ?? 60_000,
      logFile: join(this.opts.logDir, `${name}.log`),
    });
    this.opts.guard?.watch(proc.pid, false);
    void proc.exited.then(() => {
      this.exited.add(proc);
      this.opts.guard?.forget(proc.pid);
    });
    const service: Service = {
      kind,
      name,
      proc,
      port,
      url: `http://${host}:${port}`,
      opsPort,
      metricsUrl: `http://${reachable(this.opsHost)}:${opsPort}`,
    };
    this.started.push(service);
    return service;
  }

  /** An engine; its one port serves `/healthz`, `/readyz` and `/metrics`. */
  async startEngine(o: StartOptions<EngineVars> = {}): Promise<Service> {
    const port = o.port ?? (await freePort());
    const iso = this.opts.isolation;
    const vars: EngineVars = {
      ENGINE_PORT: String(port),
      ENGINE_HOST: this.opsHost,
      ENGINE_AMQP_URL: this.opts.servers.amqpUrl,
      ENGINE_MONGO_URL: this.opts.servers.mongoUrl,
      ENGINE_REDIS_URL: this.opts.servers.redisUrl,
      ENGINE_MONGO_DB: iso?.mongoDb,
      ENGINE_AMQP_PREFIX: iso?.amqpPrefix,
      ENGINE_REDIS_PREFIX: iso?.redisPrefix,
    };
    const s = await this.start('engine', o.name ?? 'engine', port, port, vars, o);
    // The engine's one port is its ops port: the url a test probes is its metrics url.
    return { ...s, metricsUrl: s.url };
  }

  /** A gateway; `instanceId` defaults to `gw<n>-<port>`, unique per launcher. */
  async startGateway(
    o: StartOptions<GatewayVars> & { instanceId?: string } = {},
  ): Promise<GatewayService> {
    const port = o.port ?? (await freePort());
    const opsPort = o.opsPort ?? (await freePort());
    const instanceId =
      o.instanceId ?? o.env?.GATEWAY_INSTANCE_ID ?? `gw${++this.gatewaySerial}-${port}`;
    const iso = this.opts.isolation;
    const vars: GatewayVars = {
      GATEWAY_PORT: String(port),
      GATEWAY_HOST: this.host,
      GATEWAY_OPS_PORT: String(opsPort),
      GATEWAY_OPS_HOST: this.opsHost,
      GATEWAY_AMQP_URL: this.opts.servers.amqpUrl,
      GATEWAY_REDIS_URL: this.opts.servers.redisUrl,
      [JWT_KEY_ENV.gatewayPublicKeys]: this.opts.jwtKeys.publicKeys,
      GATEWAY_INSTANCE_ID: instanceId,
      GATEWAY_AMQP_PREFIX: iso?.amqpPrefix,
      GATEWAY_REDIS_PREFIX: iso?.redisPrefix,
    };
    const name = o.name ?? `gateway-${instanceId}`;
    const s = await this.start('gateway', name, port, opsPort, vars, o);
    const ws = `ws://${reachable(this.host)}:${port}/ws`;
    const gw: GatewayService = { ...s, instanceId, wsUrl: ws };
    this.started[this.started.indexOf(s)] = gw;
    return gw;
  }

  /** The api; its ops listener serves `/metrics` (and `/docs` when enabled). */
  async startApi(o: StartOptions<ApiVars> = {}): Promise<Service> {
    const port = o.port ?? (await freePort());
    const opsPort = o.opsPort ?? (await freePort());
    const iso = this.opts.isolation;
    const vars: ApiVars = {
      API_PORT: String(port),
      API_HOST: this.host,
      API_OPS_PORT: String(opsPort),
      API_OPS_HOST: this.opsHost,
      API_MONGO_URL: this.opts.servers.mongoUrl,
      API_REDIS_URL: this.opts.servers.redisUrl,
      [JWT_KEY_ENV.apiPrivateKeys]: this.opts.jwtKeys.privateKeys,
      API_MONGO_DB: iso?.mongoDb,
      API_REDIS_PREFIX: iso?.redisPrefix,
    };
    return this.start('api', o.name ?? 'api', port, opsPort, vars, o);
  }

  /** Everything every service of this launcher printed so far. */
  logs(): string {
    return this.started.map((s) => s.proc.output()).join('\n');
  }

  /**
   * Stops the running services, each with SIGTERM and SIGKILL after `graceMs`: newest
   * first, one after the other (gateways before the engines they route to), or all at once
   * (`together`: quicker, for tests that do not care about the order).
   */
  async stopAll(graceMs = 10_000, order: 'reverse' | 'together' = 'reverse'): Promise<void> {
    const running = this.running().reverse();
    if (order === 'together') {
      await Promise.allSettled(running.map((s) => s.proc.stop(graceMs)));
      return;
    }
    for (const s of running) await s.proc.stop(graceMs);
  }
}
