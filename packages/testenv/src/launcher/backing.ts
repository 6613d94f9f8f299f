/**
 * Private backing servers for a launcher: RabbitMQ, Redis and the store (FerretDB),
 * installed or built as the test environment does and started under one folder (never the
 * test environment's shared ones). `npm start` keeps their data across runs; the bench and
 * the chaos suite start from empty servers and may kill -9 and restart each on its port.
 * A {@link Watchdog} ends them if the process that started them dies without stopping them.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { ensureBinaries, VERSIONS, type Progress } from '../install.js';
import { startFerret, startRabbit, startRedis, tcpOpen, type Ctx } from '../servers.js';
import type { ServerRecord } from '../state.js';
import type { BackingUrls } from './launcher.js';
import { terminate, type Doomed } from './terminate.js';
import { Watchdog } from './watchdog.js';

export type BackingName = 'rabbitmq' | 'redis' | 'store';
export const BACKING_NAMES: readonly BackingName[] = ['rabbitmq', 'redis', 'store'];

interface Running {
  rec: ServerRecord;
  url: string;
  port: number;
}

const starters = {
  rabbitmq: startRabbit,
  redis: startRedis,
  store: startFerret,
} as const;

export interface BackingVersions {
  rabbitmq: string;
  redis: string;
  /** For example "FerretDB v1.24.2 (MongoDB wire 7.0.77)". */
  store: string;
}

export interface BackingOptions {
  /** Which servers to run. @default all three */
  want?: readonly BackingName[];
  /** Start from empty data folders, so figures never depend on an earlier run. @default false */
  fresh?: boolean;
}

/** The groups of one server: the server's and its helpers' (RabbitMQ's epmd). */
function groups(rec: ServerRecord): Doomed[] {
  return [rec.pid, ...(rec.extraPids ?? [])].map((pid) => ({ pid, group: true }));
}

export class Backing {
  private constructor(
    readonly dir: string,
    private readonly ctx: Ctx,
    private readonly running: Partial<Record<BackingName, Running>>,
    /** Ends these servers (and what {@link Launcher} registers) if this process dies. */
    readonly guard: Watchdog,
  ) {}

  /** Starts the servers wanted under `dir` (`data/`, `logs/`), installing what is missing. */
  static async start(dir: string, progress: Progress, opts: BackingOptions = {}): Promise<Backing> {
    const want = opts.want ?? BACKING_NAMES;
    const bin = await ensureBinaries(progress, want.includes('store') ? ['ferretdb'] : [], 'stack');
    const ctx: Ctx = { bin, dataDir: join(dir, 'data'), logDir: join(dir, 'logs') };
    if (opts.fresh) rmSync(ctx.dataDir, { recursive: true, force: true });
    mkdirSync(ctx.dataDir, { recursive: true });
    const guard = Watchdog.start(join(ctx.logDir, 'watchdog.log'));
    const running: Partial<Record<BackingName, Running>> = {};
    const backing = new Backing(dir, ctx, running, guard);
    const started = await Promise.allSettled(
      want.map(async (name) => {
        const r = await starters[name](ctx);
        running[name] = r;
        for (const g of groups(r.rec)) guard.watch(g.pid, true);
      }),
    );
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await backing.stop();
      throw failed.reason;
    }
    return backing;
  }

  private get(name: BackingName): Running {
    const r = this.running[name];
    if (!r) throw new Error(`${name} was not started here`);
    return r;
  }

  get amqpUrl(): string {
    return this.get('rabbitmq').url;
  }
  get redisUrl(): string {
    return this.get('redis').url;
  }
  get mongoUrl(): string {
    return this.get('store').url;
  }
  get logDir(): string {
    return this.ctx.logDir;
  }

  /** The URL of each server started here. */
  urls(): Partial<Record<BackingName, string>> {
    return Object.fromEntries(Object.entries(this.running).map(([n, r]) => [n, r.url]));
  }

  /** Each server's process group (for CPU measurements). */
  targets(): Record<BackingName, { pgrp: number }> {
    return {
      rabbitmq: { pgrp: this.get('rabbitmq').rec.pid },
      redis: { pgrp: this.get('redis').rec.pid },
      store: { pgrp: this.get('store').rec.pid },
    };
  }

  /** What a {@link Launcher} (or a ServiceStack, which also keeps scratch files in `dir`) needs. */
  servers(): BackingUrls & { dir: string } {
    return {
      amqpUrl: this.amqpUrl,
      redisUrl: this.redisUrl,
      mongoUrl: this.mongoUrl,
      dir: this.dir,
    };
  }

  /** SIGKILL to the server's whole process group (RabbitMQ's epmd included): a crash. */
  async kill9(name: BackingName): Promise<void> {
    const r = this.get(name);
    await terminate(groups(r.rec), 0);
    for (const g of groups(r.rec)) this.guard.forget(g.pid);
    // Wait until the port is really closed, so a restart cannot race the old listener.
    for (let i = 0; i < 100 && (await tcpOpen(r.port)); i++) await sleep(100);
  }

  /** Starts the server again on its port and data folder, after {@link kill9}. */
  async restart(name: BackingName): Promise<void> {
    const r = this.get(name);
    const again = await starters[name](this.ctx, { port: r.port });
    this.running[name] = again;
    for (const g of groups(again.rec)) this.guard.watch(g.pid, true);
  }

  /** The versions each server reports about itself. */
  versions(): Promise<BackingVersions> {
    return serverVersions(this.servers());
  }

  /**
   * Stops every server (SIGTERM, so RabbitMQ and Redis shut down cleanly, and SIGKILL after
   * `graceMs`; 0: SIGKILL at once, for data thrown away anyway), then the watchdog, which
   * ends anything a {@link Launcher} registered that is still running.
   */
  async stop(graceMs = 0): Promise<void> {
    const all = Object.values(this.running).flatMap((r) => groups(r.rec));
    await terminate(all, graceMs);
    for (const g of all) this.guard.forget(g.pid);
    await this.guard.close();
  }
}

/** The versions the servers at `urls` report about themselves (these or the test env's). */
export async function serverVersions(urls: BackingUrls): Promise<BackingVersions> {
  const conn = await amqp.connect(urls.amqpUrl);
  const props = conn.connection.serverProperties as Record<string, unknown>;
  await conn.close();
  const redis = new Redis(urls.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const info = await redis.info('server');
  redis.disconnect();
  const mongo = new MongoClient(urls.mongoUrl);
  const build = await mongo.db('admin').command({ buildInfo: 1 });
  await mongo.close();
  // Our FerretDB build embeds its package without release files, so it reports
  // "unknown"; the version is the one we pin and build.
  const ferret =
    'ferretdbVersion' in build
      ? build.ferretdbVersion === 'unknown'
        ? VERSIONS.ferretdb
        : String(build.ferretdbVersion)
      : undefined;
  return {
    rabbitmq: `RabbitMQ ${String(props.version)}`,
    redis: `Redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'}`,
    store: ferret
      ? `FerretDB ${ferret} (MongoDB wire ${String(build.version)})`
      : `MongoDB ${String(build.version)}`,
  };
}
