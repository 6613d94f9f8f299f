/**
 * The short resilience run inside `npm test`: a steady load of real accounts through two
 * engines, two gateways and the api while each of engine, gateway, api, RabbitMQ, Redis and
 * the store is killed with SIGKILL and restarted in turn (private servers, so the shared
 * test environment is never killed). Nothing accepted may be lost, nothing shown twice,
 * nothing left in MongoDB after the acks. No assertion on time.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { testEnv, uniqueName } from '@gossip/testenv';
import { chaosTable, FAULTS, runChaos } from '../src/chaos.js';

describe('resilience: kill -9 of each component under load', () => {
  it('loses no accepted message, shows none twice, leaves nothing in MongoDB', async () => {
    const dir = join(testEnv().dir, 'scratch', uniqueName('chaos'));
    const r = await runChaos({
      dir,
      pairs: 6,
      rate: 10,
      rounds: 1,
      warmMs: 2000,
      downMs: 1500,
      settleMinMs: 1500,
      settleMaxMs: 20_000,
      finalSettleMs: 60_000,
      redeliverySeconds: 3,
      say: (line) => console.log(`[chaos] ${line}`),
    });
    console.log(chaosTable(r));
    console.log(`left in MongoDB: ${r.leftInStore}; took ${Math.round(r.durationMs / 1000)} s`);

    // Every fault ran, under load: each phase created messages.
    assert.deepEqual(
      r.phases.map((p) => p.fault),
      ['warm-up', ...FAULTS],
    );
    for (const p of r.phases) assert.ok(p.sent > 0, `no load during ${p.fault}`);
    const t = r.total;
    assert.ok(t.sent >= 200, `only ${t.sent} messages sent`);
    assert.equal(t.refused, 0, 'the server refused sends for good');
    assert.ok(r.settled, 'did not settle: something stayed unaccepted, unshown or unacked');
    assert.equal(t.lost, 0, 'accepted messages were never shown');
    assert.equal(t.dupShown, 0, 'messages were shown to the app twice');
    assert.equal(t.unaccepted, 0, 'sends were never accepted');
    assert.equal(t.accepted, t.sent);
    assert.equal(t.shown, t.accepted, 'every accepted message is shown');
    assert.equal(r.leftInStore, 0, 'messages stayed in MongoDB after their acks');
    // The api was on the path: clients dropped during its outage had to wait for a token.
    const apiPhase = r.phases.find((p) => p.fault === 'api')!;
    assert.ok(apiPhase.tokenRetries > 0, 'no token fetch waited for the api');
    // The servers' data goes; their and the services' logs stay for a look.
    rmSync(join(dir, 'data'), { recursive: true, force: true });
  });
});
