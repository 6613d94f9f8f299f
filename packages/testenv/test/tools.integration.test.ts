// Proves helm, kubectl, promtool and Prometheus from the test environment work:
// a chart renders and passes a server-side dry run; a rule file checks; a target
// written to the file_sd folder gets scraped.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { testEnv, uniqueName } from '../src/index.js';

const env = testEnv();
const chart = fileURLToPath(new URL('./fixtures/tiny-chart', import.meta.url));

test('helm template of a tiny chart passes a server-side dry run', () => {
  const ns = uniqueName('smoke-helm');
  execFileSync(env.bin.kubectl, ['--kubeconfig', env.kubeconfig, 'create', 'namespace', ns]);
  after(() => {
    spawnSync(env.bin.kubectl, [
      '--kubeconfig',
      env.kubeconfig,
      'delete',
      'namespace',
      ns,
      '--wait=false',
    ]);
  });
  const rendered = execFileSync(env.bin.helm, ['template', 'demo', chart, '--namespace', ns], {
    env: { ...process.env, ...env.helmEnv },
    encoding: 'utf8',
  });
  assert.match(rendered, /kind: ConfigMap/);
  // A server-side dry run: the apiserver validates the objects without storing them.
  const dryRun = (input: string) =>
    spawnSync(
      env.bin.kubectl,
      [
        '--kubeconfig',
        env.kubeconfig,
        'apply',
        '--dry-run=server',
        '--server-side',
        '-n',
        ns,
        '-f',
        '-',
      ],
      { input, encoding: 'utf8' },
    );
  const applied = dryRun(rendered);
  assert.equal(applied.status, 0, applied.stderr);
  assert.match(applied.stdout, /configmap\/demo-tiny serverside-applied \(server dry run\)/);
  // And a broken object is refused by the server, so the dry run really checks.
  const broken = dryRun(rendered.replace('replicas: 1', 'replicas: "one"'));
  assert.notEqual(broken.status, 0);
});

test('promtool checks a rule file and rejects a broken one', () => {
  const dir = mkdtempSync(join(env.dir, 'scratch', 'rules-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const good = join(dir, 'good.yml');
  writeFileSync(
    good,
    'groups:\n- name: smoke\n  rules:\n  - alert: Up\n    expr: up == 0\n    for: 1m\n',
  );
  const ok = spawnSync(env.bin.promtool, ['check', 'rules', good], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /SUCCESS: 1 rules found/);
  const bad = join(dir, 'bad.yml');
  writeFileSync(bad, 'groups:\n- name: smoke\n  rules:\n  - alert: Up\n    expr: up ==\n');
  const res = spawnSync(env.bin.promtool, ['check', 'rules', bad], { encoding: 'utf8' });
  assert.notEqual(res.status, 0);
});

test('Prometheus scrapes a target written to its file_sd folder', async () => {
  const metric = `gossip_smoke_${Date.now()}`;
  const srv = createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(`# TYPE ${metric} gauge\n${metric} 42\n`);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  const target = join(env.prometheusTargetsDir, `${uniqueName('smoke')}.json`);
  writeFileSync(
    target,
    JSON.stringify([{ targets: [`127.0.0.1:${port}`], labels: { job: 'smoke' } }]),
  );
  after(() => {
    rmSync(target, { force: true });
    srv.close();
  });
  let value: string | undefined;
  for (let i = 0; i < 60 && value === undefined; i++) {
    await sleep(500);
    const res = await fetch(`${env.prometheusUrl}/api/v1/query?query=${metric}`);
    const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
    value = body.data.result[0]?.value[1];
  }
  assert.equal(value, '42');
});
