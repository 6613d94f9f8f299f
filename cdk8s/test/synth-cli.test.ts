import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { runSynth } from '../src/synth-cli.js';

const example = fileURLToPath(new URL('../examples/cluster.yaml', import.meta.url));

function run(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = runSynth(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

function scratch(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gossip-synth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('npm run synth', () => {
  it('writes the example cluster’s manifests to -o, without Secrets by default', (t) => {
    const out = scratch(t);
    const { code, stderr } = run(['-f', example, '-o', out]);
    assert.equal(code, 0, stderr);
    assert.deepStrictEqual(readdirSync(out), ['demo.yaml']);
    const docs = parseAllDocuments(readFileSync(join(out, 'demo.yaml'), 'utf8'));
    const objects = (Array.isArray(docs) ? docs : []).map(
      (d) => d.toJS() as { kind: string; metadata: { name: string } },
    );
    assert.ok(objects.some((o) => o.kind === 'StatefulSet' && o.metadata.name === 'demo-rabbitmq'));
    assert.ok(
      !objects.some((o) => o.metadata.name === 'demo-mongodb'),
      'MongoDB is external in the example',
    );
    assert.ok(!objects.some((o) => o.kind === 'Secret'));
  });

  it('--with-secrets writes random credentials first, private, with a warning', (t) => {
    const out = scratch(t);
    const { code, stderr } = run(['-f', example, '-o', out, '--with-secrets']);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /warning: demo: writing generated Secrets with random credentials/);
    assert.deepStrictEqual(readdirSync(out).sort(), ['00-demo-secrets.yaml', 'demo.yaml']);
    assert.equal(statSync(join(out, '00-demo-secrets.yaml')).mode & 0o777, 0o600);
    const text = readFileSync(join(out, '00-demo-secrets.yaml'), 'utf8');
    assert.match(text, /name: demo-jwt/);
  });

  it('prints to stdout without -o', () => {
    const { code, stdout } = run(['-f', example]);
    assert.equal(code, 0);
    assert.match(stdout, /^apiVersion: v1\nkind: ServiceAccount\n/);
  });

  it('writes one file per cluster; -n sets the namespace of clusters without one', (t) => {
    const dir = scratch(t);
    const doc = (name: string, ns?: string) =>
      `apiVersion: gossip.dev/v1alpha1\nkind: GossipCluster\nmetadata: {name: ${name}${ns ? `, namespace: ${ns}` : ''}}\n`;
    writeFileSync(join(dir, 'two.yaml'), `${doc('one')}---\n${doc('two', 'elsewhere')}`);
    const { code, stderr } = run([
      '-f',
      join(dir, 'two.yaml'),
      '-o',
      join(dir, 'out'),
      '-n',
      'team',
    ]);
    assert.equal(code, 0, stderr);
    assert.deepStrictEqual(readdirSync(join(dir, 'out')).sort(), ['one.yaml', 'two.yaml']);
    assert.match(readFileSync(join(dir, 'out', 'one.yaml'), 'utf8'), /namespace: team\n/);
    assert.doesNotMatch(readFileSync(join(dir, 'out', 'two.yaml'), 'utf8'), /namespace: team/);
  });

  it('exits 1 with every problem for an invalid cluster', (t) => {
    const file = join(scratch(t), 'bad.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: gossip.dev/v1alpha1',
        'kind: GossipCluster',
        'metadata: {name: bad}',
        'spec:',
        '  gateway: {minReplicas: 4, maxReplicas: 2}',
        '  redis: {managed: {}, external: {secretRef: {name: r, key: url}}}',
      ].join('\n'),
    );
    const { code, stderr } = run(['-f', file]);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      `${file}: invalid GossipCluster:\n` +
        '  - spec.gateway: gateway.minReplicas must be less than or equal to gateway.maxReplicas\n' +
        '  - spec.redis: redis: set exactly one of managed or external\n',
    );
  });

  it('exits 1 for a missing file or another kind, 2 for bad usage', (t) => {
    assert.equal(run(['-f', '/nonexistent/x.yaml']).code, 1);
    const file = join(scratch(t), 'cm.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
    const other = run(['-f', file]);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /expected kind GossipCluster, got ConfigMap/);
    assert.equal(run([]).code, 2);
    assert.equal(run(['--nope']).code, 2);
  });
});
