/**
 * The backing servers a bench run uses: by default its own RabbitMQ, Redis and FerretDB,
 * started empty under .bench/ so no figure shares a server with anything else; with
 * `BENCH_SERVERS=testenv`, the ones `npm run testenv -- up` runs (nothing started or
 * stopped here). Those are shared with whatever else uses the test env, which the `other`
 * CPU column and the machine load then show.
 */
import { join } from 'node:path';
import {
  Backing,
  repoRoot,
  serverVersions,
  testEnv,
  type BackingName,
  type BackingVersions,
  type StackServers,
} from '@gossip/testenv';
import type { Target } from './procstat.js';

export interface BenchServers {
  /** Where they run, and which they are. */
  origin: 'private' | 'testenv';
  /** For `new ServiceStack(name, servers)`. */
  servers: StackServers;
  /** Each server's process group, for CPU measurements. */
  targets(): Record<BackingName, Target>;
  versions(): Promise<BackingVersions>;
  /** Stops what this run started (nothing for the test env's). */
  stop(): Promise<void>;
}

/** The test env's process name of each backing server. */
const TESTENV_NAMES: Record<BackingName, string> = {
  rabbitmq: 'rabbitmq',
  redis: 'redis',
  store: 'ferretdb',
};

/** Picks the servers from `BENCH_SERVERS` (`private`, the default, or `testenv`). */
export async function benchServers(
  env: NodeJS.ProcessEnv,
  say: (line: string) => void,
): Promise<BenchServers> {
  const which = env.BENCH_SERVERS ?? 'private';
  if (which === 'testenv') {
    const te = testEnv(env);
    say(`using the test env's RabbitMQ, Redis and FerretDB (${te.dir})`);
    const pidOf = (name: BackingName): number => {
      const rec = te.servers.find((s) => s.name === TESTENV_NAMES[name]);
      if (!rec) throw new Error(`the test env runs no ${TESTENV_NAMES[name]}`);
      return rec.pid;
    };
    return {
      origin: 'testenv',
      servers: te,
      targets: () => ({
        rabbitmq: { pgrp: pidOf('rabbitmq') },
        redis: { pgrp: pidOf('redis') },
        store: { pgrp: pidOf('store') },
      }),
      versions: () => serverVersions(te),
      stop: () => Promise.resolve(),
    };
  }
  if (which !== 'private') {
    throw new Error(`BENCH_SERVERS must be private or testenv, not ${JSON.stringify(which)}`);
  }
  say('starting private RabbitMQ, Redis and FerretDB under .bench/');
  const backing = await Backing.start(join(repoRoot, '.bench'), say, { fresh: true });
  return {
    origin: 'private',
    servers: backing.servers(),
    targets: () => backing.targets(),
    versions: () => backing.versions(),
    stop: () => backing.stop(),
  };
}
