import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Backoff } from '../../src/informer/backoff.js';
import { Informer } from '../../src/informer/informer.js';
import type { ListWatchSource, WatchEvent } from '../../src/informer/source.js';

const obj = (name: string, rv: string): KubernetesObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { namespace: 'ns', name, resourceVersion: rv },
});

type Step = (emit: (e: WatchEvent) => void, done: (err: unknown) => void) => void;

/** A source that answers lists and watches from scripts, recording what was asked. */
function scripted(lists: (() => KubernetesObject[] | Error)[], watches: Step[]) {
  const calls: string[] = [];
  const source: ListWatchSource = {
    description: 'test',
    async list() {
      const next = lists.shift();
      const result = next ? next() : new Error('no more lists');
      calls.push('list');
      if (result instanceof Error) throw result;
      return { items: result, resourceVersion: String(10 * calls.length) };
    },
    async watch(rv, onEvent, onDone) {
      calls.push(`watch@${rv}`);
      const step = watches.shift();
      if (step) setImmediate(() => step(onEvent, onDone));
      return () => undefined;
    },
  };
  return { source, calls };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

const silent = pino({ level: 'silent' });

test('a watch that dies with ECONNRESET is followed by a re-list; vanished objects are deleted', async () => {
  const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
  const { source, calls } = scripted(
    [() => [obj('a', '1')], () => new Error('connect ECONNREFUSED'), () => [obj('b', '7')]],
    [
      (emit, done) => {
        emit({ type: 'MODIFIED', object: obj('a', '2') });
        done(reset);
      },
    ],
  );
  const seen: string[] = [];
  const inf = new Informer({
    source,
    logger: silent,
    backoff: new Backoff(1, 1, 0),
    onChange: (o, t) => seen.push(`${t}:${o.metadata?.name}`),
  });
  inf.start();
  await until(() => seen.length === 4);
  await inf.stop();
  assert.deepEqual(seen, ['added:a', 'updated:a', 'added:b', 'deleted:a']);
  assert.deepEqual(calls.slice(0, 4), ['list', 'watch@10', 'list', 'list']);
  assert.deepEqual(
    inf.list().map((o) => o.metadata?.name),
    ['b'],
  );
});

test('410 Gone as an ERROR event re-lists at once; a clean close re-watches from the last version', async () => {
  const { source, calls } = scripted(
    [() => [obj('a', '1')], () => [obj('a', '5')]],
    [
      (emit, done) => {
        emit({ type: 'BOOKMARK', object: obj('', '3') });
        emit({ type: 'MODIFIED', object: obj('a', '4') });
        done(null);
      },
      (emit, done) => {
        emit({ type: 'ERROR', object: { ...obj('', ''), code: 410 } });
        done(null);
      },
    ],
  );
  const seen: string[] = [];
  const inf = new Informer({
    source,
    logger: silent,
    backoff: new Backoff(60_000, 60_000, 0),
    onChange: (o, t) => seen.push(`${t}:${o.metadata?.name}@${o.metadata?.resourceVersion}`),
  });
  inf.start();
  await until(() => calls.length >= 5);
  await inf.stop();
  assert.deepEqual(calls.slice(0, 5), ['list', 'watch@10', 'watch@4', 'list', 'watch@40']);
  assert.deepEqual(seen, ['added:a@1', 'updated:a@4', 'updated:a@5']);
  // Exactly one re-watch without a list between: the clean close.
  const rewatches = calls.filter(
    (c, i) => c.startsWith('watch') && calls[i - 1]?.startsWith('watch'),
  );
  assert.equal(rewatches.length, 1);
});

test('a watch that closes at once without events backs off instead of reconnecting in a storm', async () => {
  const watches: Step[] = Array.from({ length: 50 }, () => (_e, done) => done(null));
  const { source, calls } = scripted(
    Array.from({ length: 50 }, () => () => [obj('a', '1')]),
    watches,
  );
  const inf = new Informer({
    source,
    logger: silent,
    backoff: new Backoff(100, 100, 0),
    onChange: () => undefined,
  });
  inf.start();
  await sleep(350);
  await inf.stop();
  const watchCount = calls.filter((c) => c.startsWith('watch')).length;
  assert.ok(
    watchCount <= 5,
    `expected a few watches in 350 ms with 100 ms backoff, got ${watchCount}`,
  );
});

test('resync reports every cached object again', async () => {
  const { source } = scripted([() => [obj('a', '1'), obj('b', '1')]], []);
  const seen: string[] = [];
  const inf = new Informer({
    source,
    logger: silent,
    resyncMs: 50,
    onChange: (o, t) => seen.push(`${t}:${o.metadata?.name}`),
  });
  inf.start();
  await until(() => seen.filter((s) => s.startsWith('resync')).length >= 4);
  await inf.stop();
  assert.ok(inf.hasSynced());
  assert.deepEqual(seen.slice(0, 4), ['added:a', 'added:b', 'resync:a', 'resync:b']);
});

test('a watch that goes silent is aborted by the watchdog and re-listed', async () => {
  const { source, calls } = scripted(
    [() => [obj('a', '1')], () => [obj('a', '2')]],
    [() => undefined /* never sends, never ends */],
  );
  const seen: string[] = [];
  const inf = new Informer({
    source,
    logger: silent,
    watchdogMs: 100,
    backoff: new Backoff(1, 1, 0),
    onChange: (o, t) => seen.push(`${t}:${o.metadata?.resourceVersion}`),
  });
  inf.start();
  await until(() => seen.length === 2);
  await inf.stop();
  assert.deepEqual(calls.slice(0, 3), ['list', 'watch@10', 'list']);
  assert.deepEqual(seen, ['added:1', 'updated:2']);
});
