/**
 * `npm run synth -- -f cluster.yaml [-o dir] [--with-secrets]`: static manifests for people who
 * run Gossip without the operator, from the same builders the operator uses.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { InvalidGossipClusterError } from './api/validate.js';
import type { GossipCluster } from './api/v1alpha1.js';
import { buildClusterObjects, resolveCluster } from './build.js';
import { buildGeneratedSecrets } from './constructs/generated-secrets.js';
import type { KubeObject } from './constructs/kube-object.js';
import { startedAs } from './started-as.js';

export const usage = `usage: npm run synth -- -f cluster.yaml [-o dir] [-n namespace] [--with-secrets]
  -f, --file          a GossipCluster manifest (YAML; several documents allowed)
  -o, --out           write <dir>/<name>.yaml (and <dir>/00-<name>-secrets.yaml); default: stdout
  -n, --namespace     namespace for clusters whose metadata has none (default: default)
  --with-secrets      also emit the generated Secrets with fresh random values
`;

/** Where the CLI writes and which folder relative paths start from; injectable for tests. */
export interface SynthIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** @default process.cwd() */
  cwd?: string;
}

/** Multi-document YAML, in order. */
export function toYamlStream(objects: readonly KubeObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

/** Runs the CLI; returns the exit code (0 ok, 1 invalid input, 2 bad usage). */
export function runSynth(argv: string[], io: SynthIo): number {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        file: { type: 'string', short: 'f' },
        out: { type: 'string', short: 'o' },
        namespace: { type: 'string', short: 'n' },
        'with-secrets': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    io.stdout(usage);
    return 0;
  }
  if (!values.file) {
    io.stderr(`missing -f <file>\n${usage}`);
    return 2;
  }
  let clusters: GossipCluster[];
  try {
    const cwd = io.cwd ?? process.cwd();
    const out = values.out === undefined ? undefined : resolve(cwd, values.out);
    clusters = readClusters(resolve(cwd, values.file));
    for (const cluster of clusters) {
      const opts = { namespace: values.namespace };
      const objects = buildClusterObjects(cluster, opts);
      const secrets = values['with-secrets']
        ? buildGeneratedSecrets(resolveCluster(cluster, opts))
        : [];
      const name = cluster.metadata.name;
      if (secrets.length > 0) {
        io.stderr(
          `warning: ${name}: writing generated Secrets with random credentials; keep the output ` +
            'private, apply it once, and do not regenerate it (new values lock out existing data)\n',
        );
      }
      if (out) {
        mkdirSync(out, { recursive: true });
        // kubectl apply -f <dir> goes in file-name order: Secrets first.
        if (secrets.length > 0) {
          writeFileSync(join(out, `00-${name}-secrets.yaml`), toYamlStream(secrets), {
            mode: 0o600,
          });
        }
        writeFileSync(join(out, `${name}.yaml`), toYamlStream(objects));
        io.stderr(`${name}: wrote ${objects.length + secrets.length} objects to ${out}\n`);
      } else {
        io.stdout(`${toYamlStream([...secrets, ...objects])}`);
      }
    }
  } catch (err) {
    if (err instanceof InvalidGossipClusterError || err instanceof InputError) {
      io.stderr(`${values.file}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  return 0;
}

class InputError extends Error {}

function readClusters(file: string): GossipCluster[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read: ${(err as Error).message}`);
  }
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new InputError('empty YAML stream');
  const clusters = docs
    .map((doc) => {
      if (doc.errors.length > 0) throw new InputError(`invalid YAML: ${doc.errors[0]?.message}`);
      return doc.toJS() as unknown;
    })
    .filter((value) => value !== null && value !== undefined);
  if (clusters.length === 0) throw new InputError('no GossipCluster document found');
  for (const c of clusters) {
    const { kind } = (c ?? {}) as { kind?: unknown };
    if (kind !== 'GossipCluster')
      throw new InputError(`expected kind GossipCluster, got ${String(kind)}`);
  }
  return clusters as GossipCluster[];
}

if (startedAs(import.meta.url, 'synth-cli')) {
  // `... | head` closes stdout early; that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  process.exitCode = runSynth(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    // `npm run` starts scripts in the repository root; paths are relative to where it was typed.
    cwd: process.env.INIT_CWD,
  });
}
