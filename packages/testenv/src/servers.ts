/**
 * Starts each real server on loopback with its own free port and data folder,
 * detached in its own process group so `down` can stop exactly what `up` started.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Binaries } from './install.js';
import type { ServerRecord } from './state.js';

/**
 * Ports are picked below the kernel's ephemeral range (`ip_local_port_range`), because
 * that is where outgoing connections take their source ports from: a port that `listen(0)`
 * handed out and closed could be taken by any connect on the machine before the server
 * it was meant for binds it (seen as EADDRINUSE in a busy CI run). Below the range only
 * another explicit bind can take it. The window also stays under Kubernetes' NodePort
 * range (30000-32767) and above its control-plane and kubelet ports (6443, 10250-10259)
 * and etcd (2379-2380).
 */
const PORT_WINDOW_LOW = 20000;
const PORT_WINDOW_HIGH = 29999;

/** Ports this process has handed out already: never the same one twice. */
const handedOut = new Set<number>();

/** The lowest port of the kernel's ephemeral range, or 32768 when it cannot be read. */
function ephemeralLow(): number {
  try {
    const low = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    );
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768;
  }
}

/** Ports the kernel keeps out of automatic assignment (`ip_local_reserved_ports`). */
function reservedPorts(): (port: number) => boolean {
  let text = '';
  try {
    text = readFileSync('/proc/sys/net/ipv4/ip_local_reserved_ports', 'utf8').trim();
  } catch {
    return () => false;
  }
  const ranges = text
    .split(',')
    .filter(Boolean)
    .map((part) => part.split('-').map(Number) as [number, number?]);
  return (port) => ranges.some(([a, b]) => port >= a && port <= (b ?? a));
}

/** True when nothing on this machine listens on `port` (checked on every IPv4 address). */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '0.0.0.0', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * A port free right now on this machine, from below the ephemeral range (see above),
 * never one this process handed out before. Other processes pick at random from the
 * same window of 10,000 ports, so two picking the same one at once is unlikely, and a
 * port one of them already listens on fails the bind check.
 */
export async function freePort(): Promise<number> {
  const high = Math.min(PORT_WINDOW_HIGH, ephemeralLow() - 1);
  const low = PORT_WINDOW_LOW;
  if (high <= low) {
    throw new Error(
      `freePort: no port window below the ephemeral range (ip_local_port_range starts at ${high + 1}; need it above ${low})`,
    );
  }
  const reserved = reservedPorts();
  const span = high - low + 1;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * span);
    if (handedOut.has(port) || reserved(port)) continue;
    handedOut.add(port);
    if (await canBind(port)) return port;
  }
  throw new Error(`freePort: no free port found in ${low}-${high} after 200 tries`);
}

export function daemon(
  name: string,
  cmd: string,
  args: string[],
  opts: { logDir: string; env?: NodeJS.ProcessEnv; cwd?: string },
): ServerRecord {
  mkdirSync(opts.logDir, { recursive: true });
  const log = join(opts.logDir, `${name}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
  return { name, pid: child.pid, log };
}

export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Waits for `check` to pass, failing with the server's log tail when it does not. */
export async function waitFor(
  rec: ServerRecord,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(rec.pid, 0);
    } catch {
      throw new Error(
        `${rec.name} exited while starting; last lines of ${rec.log}:\n${tail(rec.log)}`,
      );
    }
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(
    `${rec.name} was not ready within ${timeoutMs / 1000} s; last lines of ${rec.log}:\n${tail(rec.log)}`,
  );
}

/** Whether a TCP connection to `host:port` opens (loopback unless told: with a node the apiserver is on the host's address). */
export function tcpOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

/** GET over HTTPS trusting `ca`, with a bearer token: the apiserver's /readyz. */
export function httpsOk(url: string, ca: string, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { ca: readFileSync(ca), headers: { authorization: `Bearer ${token}` }, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export interface Ctx {
  bin: Binaries;
  dataDir: string;
  logDir: string;
}

/** Where to listen: a fixed port restarts a server where its clients expect it. */
export interface Listen {
  port?: number;
}

/** A backing server once it answers: its record, its connection URL and its port. */
export interface Started {
  rec: ServerRecord;
  url: string;
  port: number;
}

/** The port a server listens on (`at`'s, else a free one) and its data folder, created. */
async function portAndDataDir(ctx: Ctx, at: Listen, name: string) {
  const port = at.port ?? (await freePort());
  const dir = join(ctx.dataDir, name);
  mkdirSync(dir, { recursive: true });
  return { port, dir };
}

export async function startRedis(ctx: Ctx, at: Listen = {}): Promise<Started> {
  const { port, dir } = await portAndDataDir(ctx, at, 'redis');
  const rec = daemon(
    'redis',
    ctx.bin.redisServer,
    [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
    ],
    { logDir: ctx.logDir },
  );
  await waitFor(rec, () => tcpOpen(port), 20_000);
  return { rec, url: `redis://127.0.0.1:${port}`, port };
}

export async function startRabbit(ctx: Ctx, at: Listen = {}): Promise<Started> {
  const [port, distPort, epmdPort] = [
    at.port ?? (await freePort()),
    await freePort(),
    await freePort(),
  ];
  const dir = join(ctx.dataDir, 'rabbitmq');
  mkdirSync(join(dir, 'mnesia'), { recursive: true });
  writeFileSync(
    join(dir, 'rabbitmq.conf'),
    [
      `listeners.tcp.1 = 127.0.0.1:${port}`,
      'default_user = gossip',
      'default_pass = gossip',
      'loopback_users = none',
      'log.console = true',
      'log.console.level = warning',
      'log.file = false',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  // Our own epmd on its own port: RabbitMQ would otherwise start a shared one that outlives `down`.
  const epmd = daemon('epmd', ctx.bin.epmd, ['-port', String(epmdPort), '-address', '127.0.0.1'], {
    logDir: ctx.logDir,
  });
  await waitFor(epmd, () => tcpOpen(epmdPort), 10_000);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir,
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_NODENAME: `gossip${port}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
  };
  // cwd: its data folder, where Erlang writes crash dumps (MnesiaCore.*, erl_crash.dump).
  const rec = daemon('rabbitmq', ctx.bin.rabbitmqServer, [], { logDir: ctx.logDir, env, cwd: dir });
  rec.extraPids = [epmd.pid];
  // RabbitMQ opens its AMQP listener last in boot, so an open port means ready.
  await waitFor(rec, () => tcpOpen(port), 90_000);
  return { rec, url: `amqp://gossip:gossip@127.0.0.1:${port}`, port };
}

export async function startFerret(ctx: Ctx, at: Listen = {}): Promise<Started> {
  const { port, dir } = await portAndDataDir(ctx, at, 'ferretdb');
  const rec = daemon(
    'ferretdb',
    ctx.bin.ferretdb,
    [`-listen-addr=127.0.0.1:${port}`, `-sqlite-url=file:${dir}/`, '-log-level=error'],
    { logDir: ctx.logDir },
  );
  await waitFor(rec, () => tcpOpen(port), 30_000);
  return { rec, url: `mongodb://127.0.0.1:${port}/`, port };
}

export async function startPrometheus(
  ctx: Ctx,
): Promise<{ rec: ServerRecord; url: string; targetsDir: string }> {
  const port = await freePort();
  const dir = join(ctx.dataDir, 'prometheus');
  const targetsDir = join(dir, 'targets');
  mkdirSync(targetsDir, { recursive: true });
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 2s',
      '  evaluation_interval: 2s',
      'scrape_configs:',
      '  - job_name: gossip',
      '    file_sd_configs:',
      `      - files: ['${targetsDir}/*.json']`,
      '        refresh_interval: 2s',
      '',
    ].join('\n'),
  );
  const rec = daemon(
    'prometheus',
    ctx.bin.prometheus,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      '--storage.tsdb.retention.time=1d',
    ],
    { logDir: ctx.logDir },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(rec, () => httpOk(`${url}/-/ready`), 30_000);
  return { rec, url, targetsDir };
}
