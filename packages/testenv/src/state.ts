/** Where the running environment is described, and how tests read it. */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, found from this file's own place in it. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The folder holding one run's state, data directories and logs. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.GOSSIP_TESTENV_DIR;
  return dir && dir !== '' ? resolve(dir) : join(repoRoot, '.testenv');
}

export function stateFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), 'state.json');
}

/** One server started by `up`: how to reach it and how `down` stops it. */
export interface ServerRecord {
  name: string;
  pid: number;
  /** Extra pids that belong to this server (for example RabbitMQ's epmd). */
  extraPids?: number[];
  log: string;
}

/** Everything a test needs to reach the real servers. */
export interface TestEnv {
  /** redis://127.0.0.1:PORT */
  redisUrl: string;
  /** amqp://gossip:gossip@127.0.0.1:PORT */
  amqpUrl: string;
  /** mongodb://127.0.0.1:PORT/ (FerretDB, SQLite backend) */
  mongoUrl: string;
  /** http://127.0.0.1:PORT of Prometheus. */
  prometheusUrl: string;
  /**
   * A folder Prometheus watches with file_sd: write `<name>.json` there
   * (`[{"targets":["127.0.0.1:PORT"],"labels":{...}}]`) to have it scraped.
   */
  prometheusTargetsDir: string;
  /** https://127.0.0.1:PORT of kube-apiserver. */
  kubeApiUrl: string;
  /** Path of an admin (system:masters) token kubeconfig for the control plane. */
  kubeconfig: string;
  /** Absolute paths of the command-line tools. */
  bin: { kubectl: string; helm: string; promtool: string; etcd: string };
  /** Environment for helm so it keeps its config and cache inside the run's folder. */
  helmEnv: Record<string, string>;
  /** The run's folder: tests may create scratch folders below `${dir}/scratch`. */
  dir: string;
  servers: ServerRecord[];
  /** Only after `up --node`: the real node pods run on. */
  node?: {
    name: string;
    /** The node's (and the apiserver's) address; NodePorts answer here. */
    ip: string;
    /** containerd's socket, for `ctr -n k8s.io images import`. */
    containerdSocket: string;
    /** Seconds from the control plane being up to the node Ready with CoreDNS. */
    startSeconds: number;
  };
}

/**
 * Reads the environment `npm run testenv -- up` wrote. Throws with the command to
 * run when it is not up, so a test without its servers fails loudly.
 */
export function testEnv(env: NodeJS.ProcessEnv = process.env): TestEnv {
  const file = stateFile(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(
      `the test environment is not up (no ${file}); start it with \`npm run testenv -- up\``,
      { cause: err },
    );
  }
  return JSON.parse(text) as TestEnv;
}

/** A name unique to this test run, for databases, vhosts, namespaces and key prefixes. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`.toLowerCase();
}
