/**
 * The backing servers of a benchmark or resilience run: RabbitMQ, Redis and the store
 * (FerretDB), started privately for the run (never the test environment's shared ones),
 * so the resilience suite may kill -9 and restart each of them on the same port.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { ensureBinaries, VERSIONS, type Binaries } from '../../testenv/src/install.js';
import {
  startFerret,
  startRabbit,
  startRedis,
  tcpOpen,
  type Ctx,
} from '../../testenv/src/servers.js';
import type { ServerRecord } from '../../testenv/src/state.js';
import type { StackServers } from '../../../services/gateway/test/support/stack.js';
import type { Target } from './procstat.js';

export type BackingName = 'rabbitmq' | 'redis' | 'store';

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

export class Backing {
  private constructor(
    readonly dir: string,
    private readonly ctx: Ctx,
    private readonly running: Record<BackingName, Running>,
  ) {}

  /**
   * Starts all three under `dir` (data and logs), installing or building what is missing
   * the way `npm start` does.
   */
  static async start(dir: string, progress: (line: string) => void): Promise<Backing> {
    const bin: Binaries = await ensureBinaries(progress, ['ferretdb'], 'stack');
    const ctx: Ctx = { bin, dataDir: join(dir, 'data'), logDir: join(dir, 'logs') };
    // Every run starts from empty servers, so figures never depend on an earlier run.
    rmSync(ctx.dataDir, { recursive: true, force: true });
    mkdirSync(ctx.dataDir, { recursive: true });
    const [rabbitmq, redis, store] = await Promise.all([
      startRabbit(ctx),
      startRedis(ctx),
      startFerret(ctx),
    ]);
    return new Backing(dir, ctx, { rabbitmq, redis, store });
  }

  get amqpUrl(): string {
    return this.running.rabbitmq.url;
  }
  get redisUrl(): string {
    return this.running.redis.url;
  }
  get mongoUrl(): string {
    return this.running.store.url;
  }
  get logDir(): string {
    return this.ctx.logDir;
  }

  /** Each server's process group, for {@link cpuMeter}. */
  targets(): Record<BackingName, Target> {
    return {
      rabbitmq: { pgrp: this.running.rabbitmq.rec.pid },
      redis: { pgrp: this.running.redis.rec.pid },
      store: { pgrp: this.running.store.rec.pid },
    };
  }

  /** What a {@link Stack} needs to run services against these servers. */
  servers(): StackServers {
    return {
      amqpUrl: this.amqpUrl,
      redisUrl: this.redisUrl,
      mongoUrl: this.mongoUrl,
      dir: this.dir,
    };
  }

  /** SIGKILL to the server's whole process group (RabbitMQ's epmd included). */
  async kill9(name: BackingName): Promise<void> {
    const r = this.running[name];
    for (const pid of [r.rec.pid, ...(r.rec.extraPids ?? [])]) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    // Wait until the port is really closed, so a restart cannot race the old listener.
    for (let i = 0; i < 100 && (await tcpOpen(r.port)); i++) await sleep(100);
  }

  /** Starts the server again on its port and data folder, after {@link kill9}. */
  async restart(name: BackingName): Promise<void> {
    const r = this.running[name];
    this.running[name] = await starters[name](this.ctx, { port: r.port });
  }

  /** The versions each server reports about itself. */
  async versions(): Promise<BackingVersions> {
    const conn = await amqp.connect(this.amqpUrl);
    const props = conn.connection.serverProperties as Record<string, unknown>;
    await conn.close();
    const redis = new Redis(this.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const info = await redis.info('server');
    redis.disconnect();
    const mongo = new MongoClient(this.mongoUrl);
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

  async stop(): Promise<void> {
    for (const name of ['rabbitmq', 'redis', 'store'] as const) await this.kill9(name);
  }
}
