/**
 * The resilience suite: a steady open-loop load of real accounts runs through two engines,
 * two gateways and the api on private RabbitMQ, Redis and FerretDB, while each component
 * in turn is killed with SIGKILL and restarted. Each user is the real SDK (chaos/client.ts:
 * `GossipClient` and `Messenger`, registered and made contacts through the api, messages
 * end-to-end encrypted), so the fault matrix tests the code users run. Access tokens live
 * {@link ACCESS_TOKEN_TTL_SECONDS} s, so every reconnect and re-auth takes a refresh from
 * the api. Every message is followed through the SDK's counting hooks from creation to
 * `accepted` to being shown to the "app", per fault and in total: what was lost, what was
 * shown twice, what stayed in MongoDB after the acks.
 *
 * Used by `npm run chaos` (chaos-cli.ts, long) and by the short version inside `npm test`
 * (packages/bench/test/chaos.integration.test.ts). It reports; the callers judge.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { API_PATHS } from '@gossip/protocol';
import { Backing, ServiceStack, type GatewayService, type Service } from '@gossip/testenv';
import { ChaosUser } from './chaos/client.js';
import { Tracker } from './chaos/tracker.js';
import { FAULTS, type ChaosOptions, type ChaosResult, type PhaseResult } from './chaos/types.js';

export { chaosTable } from './chaos/table.js';
export {
  FAULTS,
  type ChaosOptions,
  type ChaosResult,
  type Counts,
  type Fault,
  type PhaseResult,
} from './chaos/types.js';

/**
 * The api's access-token lifetime in the run (s). Under the SDK's 30 s refresh margin, so
 * the SDK refreshes through the api for every (re)connect and re-authenticates in band
 * every ten seconds: the api and its store are on the clients' path, as the old model's
 * token-per-connect was.
 */
export const ACCESS_TOKEN_TTL_SECONDS = 20;

async function poll(what: () => boolean | Promise<boolean>, maxMs: number): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    if (await what()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(200);
  }
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const say = opts.say;
  const t0 = Date.now();
  const faults = opts.faults ?? FAULTS;
  const tracker = new Tracker();
  tracker.begin('warm-up', 0);

  say(`starting private RabbitMQ, Redis and FerretDB under ${opts.dir}`);
  const backing = await Backing.start(opts.dir, say, { fresh: true });
  const servers = await backing.versions().catch(async (err: unknown) => {
    await backing.stop();
    throw err;
  });
  // Five services start at once on a machine that may be shared: the api was seen not
  // ready within the default 60 s (load average 25 on two cores).
  const stack = new ServiceStack('chaos', backing.servers(), { readyTimeoutMs: 180_000 });
  stack.redis.on('error', () => undefined);
  const clients: ChaosUser[] = [];
  let loadTimer: NodeJS.Timeout | undefined;
  try {
    const level = opts.logLevel ?? 'info';
    const engineEnv = {
      ENGINE_LOG_LEVEL: level,
      ENGINE_REDELIVERY_SECONDS: String(opts.redeliverySeconds),
    };
    const gatewayEnv = { GATEWAY_LOG_LEVEL: level };
    const apiEnv = {
      API_LOG_LEVEL: level,
      API_REGISTER_MAX_PER_IP: '1000000',
      API_LOGIN_MAX_PER_IP: '1000000',
      API_ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TOKEN_TTL_SECONDS),
    };
    let serial = 0;
    const startEngine = (): Promise<Service> => stack.startEngine(engineEnv, `engine-${++serial}`);
    say('starting 2 engines, 2 gateways and the api');
    const [e1, e2, g1, g2, api0] = await Promise.all([
      startEngine(),
      startEngine(),
      stack.startGateway(gatewayEnv),
      stack.startGateway(gatewayEnv),
      stack.startApi(apiEnv),
    ]);
    const engines: Service[] = [e1, e2];
    const gateways: GatewayService[] = [g1, g2];
    let api: Service = api0;
    const apiUrl = (): string => api.url;
    // Gateways come back on their ports (as behind a fixed address), so the SDK's URL
    // list stays right; each user starts on a different one.
    const wsUrls = gateways.map((g) => g.wsUrl);

    // Accounts through the SDK: register (keys made here), request, accept (which sends
    // the requester a conversation key); the sender pins the recipient's keys now, so no
    // send needs the api later.
    say(`registering ${opts.pairs * 2} accounts and making ${opts.pairs} contact pairs`);
    const t1 = Date.now();
    const tag = Date.now().toString(36).slice(-5);
    const seenLimit = opts.seenLimit ?? 5000;
    const pairs: Array<{ from: ChaosUser; to: string }> = [];
    for (let i = 0; i < opts.pairs; i++) {
      const [from, to] = [`cs${tag}${i}`, `cr${tag}${i}`].map(
        (username) =>
          new ChaosUser({ username, password: `password-${username}`, apiUrl, tracker }),
      ) as [ChaosUser, ChaosUser];
      await Promise.all([from.register(), to.register()]);
      await from.gossip.api.requestContact(to.username);
      await to.gossip.acceptContact(from.username);
      await from.gossip.pinnedKeys(to.username);
      clients.push(from, to);
      pairs.push({ from, to: to.username });
    }
    say(`accounts ready in ${Date.now() - t1} ms`);
    await Promise.all(
      clients.map((c, i) =>
        c.start(
          wsUrls.map((_, k) => wsUrls[(i + k) % wsUrls.length]!),
          seenLimit,
        ),
      ),
    );
    say(
      `${clients.length} SDK clients connected; load ${opts.rate} msg/s over ${opts.pairs} pairs`,
    );

    // Open loop: messages are created on schedule whatever the system is doing.
    const loadStart = Date.now();
    let made = 0;
    loadTimer = setInterval(() => {
      const due = Math.floor(((Date.now() - loadStart) / 1000) * opts.rate);
      for (; made < due; made++) {
        const p = pairs[made % pairs.length]!;
        p.from.send(p.to);
      }
    }, 20);

    await sleep(opts.warmMs);
    tracker.phase.settled = true;

    for (let round = 1; round <= opts.rounds; round++) {
      for (const fault of faults) {
        const p = tracker.begin(fault, round);
        const which = (round - 1) % 2;
        p.killAt = Date.now();
        say(`round ${round}: kill -9 ${fault}`);
        // A quarter of the clients (a different quarter each time) also lose their network
        // while the component is down: their reconnect, token fetch from the api included,
        // happens during the outage.
        let probe: Promise<void> = Promise.resolve();
        const dropSome = (): void => {
          clients.forEach((c, i) => {
            if (i % 4 === (p.index + round) % 4) c.drop();
          });
          // And a password login is tried once, alongside (the api's rate limiter lives in
          // Redis, its accounts in the store).
          const who = clients[0]!;
          probe = fetch(apiUrl() + API_PATHS.login, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ username: who.username, password: who.password }),
            signal: AbortSignal.timeout(Math.max(1000, opts.downMs)),
          }).then(
            (res) => void (p.loginWhileDown = res.status),
            () => void (p.loginWhileDown = 'no answer'),
          );
        };
        switch (fault) {
          case 'engine':
            await engines[which]!.proc.kill9();
            dropSome();
            engines[which] = await startEngine();
            break;
          case 'gateway': {
            const { port } = gateways[which]!;
            await gateways[which]!.proc.kill9();
            dropSome();
            gateways[which] = await stack.startGateway(gatewayEnv, { port });
            break;
          }
          case 'api':
            await api.proc.kill9();
            dropSome();
            await sleep(opts.downMs);
            api = await stack.startApi(apiEnv);
            break;
          case 'redis-kept':
            await stack.redis.save();
            await backing.kill9('redis');
            dropSome();
            await sleep(opts.downMs);
            await backing.restart('redis');
            break;
          default:
            await backing.kill9(fault);
            dropSome();
            await sleep(opts.downMs);
            await backing.restart(fault);
        }
        p.restartedAt = Date.now();
        const restartedAt = p.restartedAt;
        await probe;
        await sleep(opts.settleMinMs);
        p.settled = await poll(
          () => tracker.doneBefore(restartedAt),
          Math.max(0, opts.settleMaxMs - opts.settleMinMs),
        );
        const c = tracker.counts((m) => tracker.phases[m.phase] === p);
        say(
          `  back in ${restartedAt - p.killAt} ms; ${p.settled ? 'settled' : 'NOT settled'}: ` +
            `sent ${c.sent}, accepted ${c.accepted}, shown ${c.shown}, lost so far ${c.lost}`,
        );
      }
    }

    // Stop the load; wait for every message to be accepted, shown and acked (deleted).
    clearInterval(loadTimer);
    loadTimer = undefined;
    const endPhase = tracker.phase;
    endPhase.endAt = Date.now();
    say('load stopped; waiting for everything to be accepted, shown and acked');
    const messages = stack.db.collection('messages');
    let leftInStore = -1;
    const settled = await poll(async () => {
      if (!tracker.doneBefore(Infinity)) return false;
      leftInStore = await messages.countDocuments({}).catch(() => -1);
      return leftInStore === 0;
    }, opts.finalSettleMs);
    leftInStore = await messages.countDocuments({});

    const phases: PhaseResult[] = tracker.phases.map((p, i) => {
      const end = tracker.phases[i + 1]?.startAt ?? p.endAt ?? Date.now();
      return {
        fault: p.fault,
        round: p.round,
        ...tracker.counts((m) => m.phase === i),
        outageMs:
          p.killAt !== undefined && p.restartedAt !== undefined ? p.restartedAt - p.killAt : null,
        recoveryMs:
          p.restartedAt !== undefined && p.recoveredAt !== undefined
            ? p.recoveredAt - p.restartedAt
            : null,
        stallMs: p.killAt !== undefined ? tracker.stall(p.killAt, end) : null,
        settled: p.settled,
        reconnects: p.reconnects,
        tokenRetries: p.tokenRetries,
        relogins: p.relogins,
        errors: p.errors,
        loginWhileDown: p.loginWhileDown,
      };
    });
    const { say: _say, dir: _dir, ...config } = opts;
    return {
      config,
      phases,
      total: tracker.counts(() => true),
      leftInStore,
      settled,
      deliveredAfterReceipt: tracker.deliveredAfterReceipt,
      durationMs: Date.now() - t0,
      servers,
    };
  } finally {
    if (loadTimer) clearInterval(loadTimer);
    await Promise.allSettled(clients.map((c) => c.stop()));
    await stack.close().catch(() => undefined);
    await backing.stop();
  }
}
