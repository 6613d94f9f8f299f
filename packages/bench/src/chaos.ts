/**
 * The resilience suite: a steady open-loop load of real accounts (registered and made
 * contacts through the api, tokens from the api's login/refresh on every (re)connect) runs
 * through two engines, two gateways and the api on private RabbitMQ, Redis and FerretDB,
 * while each component in turn is killed with SIGKILL and restarted. Every message is
 * followed from creation to `accepted` to being shown to the "app", per fault and in
 * total: what was lost, what was shown twice, what stayed in MongoDB after the acks.
 *
 * Used by `npm run chaos` (chaos-cli.ts, long) and by the short version inside `npm test`
 * (packages/bench/test/chaos.integration.test.ts). It reports; the callers judge.
 */
import { generateKeyPairSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import {
  API_PATHS,
  apiPath,
  MAX_ACK_IDS,
  newMessageId,
  WS_SUBPROTOCOL,
  type DeliverFrame,
  type ErrorCode,
  type SendFrame,
  type ServerFrame,
  type Session,
} from '@gossip/protocol';
import {
  Backing,
  ServiceStack,
  type BackingVersions,
  type GatewayService,
  type Service,
} from '@gossip/testenv';

/**
 * What is killed in turn. `redis` loses its data (no persistence: every presence claim
 * goes, as after a flush); `redis-kept` saves a snapshot just before the kill and restarts
 * from it, as a Redis with persistence does (claims survive, possibly stale).
 */
export const FAULTS = [
  'engine',
  'gateway',
  'api',
  'rabbitmq',
  'redis',
  'redis-kept',
  'store',
] as const;
export type Fault = (typeof FAULTS)[number];

export interface ChaosOptions {
  /** Where the private servers keep data and logs. */
  dir: string;
  /** Sender/recipient pairs (two accounts and two clients each). */
  pairs: number;
  /** Messages per second offered in total, open loop (created on schedule, outage or not). */
  rate: number;
  /** How many times the whole list of faults is gone through. */
  rounds: number;
  faults?: readonly Fault[];
  /** Load before the first fault (ms). */
  warmMs: number;
  /** How long a killed server, or the api, stays down before its restart (ms). */
  downMs: number;
  /** After a restart: wait at least this long (ms)... */
  settleMinMs: number;
  /** ...and at most this long for everything created before the restart to be shown. */
  settleMaxMs: number;
  /** After the load stops: how long to wait for everything to be accepted, shown, acked. */
  finalSettleMs: number;
  /** ENGINE_REDELIVERY_SECONDS for the engines (redelivery of unacked deliveries). */
  redeliverySeconds: number;
  /** How many handled ids each client remembers to drop duplicates (the SDK default). */
  seenLimit?: number;
  /** Services' log level (their logs are under dir/scratch/delivery/). */
  logLevel?: string;
  say: (line: string) => void;
}

export interface Counts {
  /** Messages the app asked to send (unique ids). */
  sent: number;
  /** Of those, the ones the server answered `accepted` for. */
  accepted: number;
  /** Shown to the app (first arrival through the client's dedupe). */
  shown: number;
  /** `deliver` frames beyond the first per id (the wire may carry duplicates). */
  dupWire: number;
  /** Ids the app handler saw more than once (must be 0). */
  dupShown: number;
  /** Accepted and never shown once everything settled (must be 0). */
  lost: number;
  /** Sent and never accepted once everything settled (the client was still resending). */
  unaccepted: number;
  /** Sends the server refused for good (an error code that is not retryable). */
  refused: number;
}

export interface PhaseResult extends Counts {
  fault: Fault | 'warm-up';
  round: number;
  /** Kill to the component being back (restart returned, ready). */
  outageMs: number | null;
  /** Restart to the first `accepted` of a message created after the restart. */
  recoveryMs: number | null;
  /** Longest time without any `accepted` frame between the kill and the phase's end. */
  stallMs: number | null;
  /** Whether everything created before the restart was shown within settleMaxMs. */
  settled: boolean;
  /** Client (re)connections, token fetches that failed and were retried, fresh logins. */
  reconnects: number;
  tokenRetries: number;
  relogins: number;
  /** Error frames the clients got during the phase, by code. */
  errors: Record<string, number>;
  /** What a password login to the api answered while the component was down (HTTP status). */
  loginWhileDown: number | 'no answer' | null;
}

export interface ChaosResult {
  config: Omit<ChaosOptions, 'say' | 'dir'>;
  phases: PhaseResult[];
  total: Counts;
  /** Documents in the messages collection once everything was shown and acked. */
  leftInStore: number;
  /** Whether the final settle finished (all accepted, shown, store empty) in time. */
  settled: boolean;
  /** Deliveries of an id after its sender got the `delivered` receipt (informational). */
  deliveredAfterReceipt: number;
  durationMs: number;
  /** What the private servers report themselves to be. */
  servers: BackingVersions;
}

const RETRYABLE = new Set<ErrorCode>(['unavailable', 'draining', 'rate_limited', 'internal']);

// ---------------------------------------------------------------- bookkeeping

interface Msg {
  phase: number;
  createdAt: number;
  acceptedAt?: number;
  shownAt?: number;
  wire: number;
  shownCount: number;
  refused?: string;
  receiptAt?: number;
}

interface PhaseState {
  index: number;
  fault: Fault | 'warm-up';
  round: number;
  startAt: number;
  killAt?: number;
  restartedAt?: number;
  recoveredAt?: number;
  endAt?: number;
  settled: boolean;
  reconnects: number;
  tokenRetries: number;
  relogins: number;
  errors: Record<string, number>;
  loginWhileDown: number | 'no answer' | null;
}

class Tracker {
  readonly msgs = new Map<string, Msg>();
  readonly phases: PhaseState[] = [];
  readonly acceptTimes: number[] = [];
  deliveredAfterReceipt = 0;

  get phase(): PhaseState {
    return this.phases[this.phases.length - 1]!;
  }

  begin(fault: PhaseState['fault'], round: number): PhaseState {
    const now = Date.now();
    if (this.phases.length > 0) this.phase.endAt = now;
    const p: PhaseState = {
      index: this.phases.length,
      fault,
      round,
      startAt: now,
      settled: false,
      reconnects: 0,
      tokenRetries: 0,
      relogins: 0,
      errors: {},
      loginWhileDown: null,
    };
    this.phases.push(p);
    return p;
  }

  created(id: string): void {
    this.msgs.set(id, {
      phase: this.phases.length - 1,
      createdAt: Date.now(),
      wire: 0,
      shownCount: 0,
    });
  }

  accepted(id: string): void {
    const m = this.msgs.get(id);
    if (!m || m.acceptedAt !== undefined) return;
    const now = Date.now();
    m.acceptedAt = now;
    this.acceptTimes.push(now);
    const p = this.phase;
    if (
      p.restartedAt !== undefined &&
      p.recoveredAt === undefined &&
      m.createdAt >= p.restartedAt
    ) {
      p.recoveredAt = now;
    }
  }

  wire(f: DeliverFrame): void {
    const m = this.msgs.get(f.id);
    if (!m) return;
    m.wire++;
    if (m.receiptAt !== undefined) this.deliveredAfterReceipt++;
  }

  /** The application's handler: the only place "shown" is counted. */
  show(f: DeliverFrame): void {
    const m = this.msgs.get(f.id);
    if (!m) return;
    m.shownCount++;
    if (m.shownAt === undefined) m.shownAt = Date.now();
  }

  receipt(id: string): void {
    const m = this.msgs.get(id);
    if (m && m.receiptAt === undefined) m.receiptAt = Date.now();
  }

  refused(id: string, code: string): void {
    const m = this.msgs.get(id);
    if (m) m.refused = code;
  }

  error(code: string): void {
    const e = this.phase.errors;
    e[code] = (e[code] ?? 0) + 1;
  }

  /** Whether every message created before `t` has been accepted and shown. */
  doneBefore(t: number): boolean {
    for (const m of this.msgs.values()) {
      if (m.createdAt >= t) continue;
      if (m.refused === undefined && (m.acceptedAt === undefined || m.shownAt === undefined)) {
        return false;
      }
    }
    return true;
  }

  counts(filter: (m: Msg) => boolean): Counts {
    const c: Counts = {
      sent: 0,
      accepted: 0,
      shown: 0,
      dupWire: 0,
      dupShown: 0,
      lost: 0,
      unaccepted: 0,
      refused: 0,
    };
    for (const m of this.msgs.values()) {
      if (!filter(m)) continue;
      c.sent++;
      if (m.acceptedAt !== undefined) c.accepted++;
      if (m.shownCount > 0) c.shown++;
      c.dupWire += Math.max(0, m.wire - 1);
      c.dupShown += Math.max(0, m.shownCount - 1);
      if (m.acceptedAt !== undefined && m.shownCount === 0) c.lost++;
      if (m.refused !== undefined) c.refused++;
      else if (m.acceptedAt === undefined) c.unaccepted++;
    }
    return c;
  }

  /** Longest gap between `accepted` frames within [from, to]. */
  stall(from: number, to: number): number {
    let prev = from;
    let worst = 0;
    for (const t of this.acceptTimes) {
      if (t < from) continue;
      if (t > to) break;
      worst = Math.max(worst, t - prev);
      prev = t;
    }
    return Math.max(worst, to - prev);
  }
}

/** A set remembering the newest `limit` ids, as the SDK's seen-set does. */
class BoundedIds {
  private readonly ids = new Set<string>();
  constructor(private readonly limit: number) {}
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.limit) this.ids.delete(this.ids.values().next().value as string);
  }
}

// ---------------------------------------------------------------- accounts (the api)

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 200)}`);
  }
}

async function apiCall<T>(
  base: string,
  path: string,
  body: unknown,
  token?: string,
): Promise<T | undefined> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + path, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  if (!res.ok) throw new HttpError(res.status, text);
  return text ? (JSON.parse(text) as T) : undefined;
}

/** One user's session with the api: log in once, refresh on every (re)connect. */
class Account {
  private refreshToken: string | undefined;
  stopped = false;

  constructor(
    readonly username: string,
    readonly password: string,
    private readonly apiUrl: () => string,
    private readonly tracker: Tracker,
  ) {}

  adopt(s: Session): void {
    this.refreshToken = s.refreshToken;
  }

  /** A fresh access token from the api, retried (with backoff) until the api answers. */
  async token(): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) throw new Error('stopped');
      try {
        const s = this.refreshToken
          ? await apiCall<Session>(this.apiUrl(), API_PATHS.refresh, {
              refreshToken: this.refreshToken,
            })
          : await apiCall<Session>(this.apiUrl(), API_PATHS.login, {
              username: this.username,
              password: this.password,
            });
        this.refreshToken = s!.refreshToken;
        return s!.accessToken;
      } catch (err) {
        if (err instanceof HttpError && err.status === 401 && this.refreshToken) {
          // A refresh token is single use: one consumed by a request whose answer never
          // came back (the api was killed) is spent. Log in again.
          this.refreshToken = undefined;
          this.tracker.phase.relogins++;
          continue;
        }
        this.tracker.phase.tokenRetries++;
        await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
      }
    }
  }
}

// ---------------------------------------------------------------- the client

interface Outgoing {
  frame: SendFrame;
  /** When it was last written (0: not yet on this connection). */
  at: number;
}

/**
 * What a careful SDK does on the wire: one connection at a time, rotating through the
 * gateway URLs after each drop, a token from the api for each connect, every unaccepted
 * send rewritten with the same id (on reconnect, after `resendMs`, soon after a retryable
 * error), deliveries deduped by id (a bounded seen-set, as the SDK's) before the app
 * handler, acks for everything delivered (again for duplicates), re-sent when refused.
 */
class ChaosClient {
  readonly outbox = new Map<string, Outgoing>();
  private ws: WebSocket | undefined;
  private open = false;
  private stopped = false;
  private turn: number;
  private readonly seen: BoundedIds;
  private readonly ackQueue = new Set<string>();
  private readonly ackBatches = new Map<string, string[]>();
  private ackTimer: NodeJS.Timeout | undefined;
  private readonly timer: NodeJS.Timeout;
  private connecting: Promise<void> | undefined;

  constructor(
    readonly account: Account,
    private readonly urls: () => string[],
    private readonly tracker: Tracker,
    seenLimit: number,
    offset: number,
    private readonly resendMs = 2000,
  ) {
    this.turn = offset;
    this.seen = new BoundedIds(seenLimit);
    this.timer = setInterval(() => this.resendDue(), 250);
  }

  start(): Promise<void> {
    this.connecting ??= this.connectLoop().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connectLoop(): Promise<void> {
    while (!this.stopped && !this.open) {
      let token: string;
      try {
        token = await this.account.token();
      } catch {
        return; // stopped
      }
      const urls = this.urls();
      const url = urls[this.turn++ % urls.length]!;
      try {
        await this.connect(url, token);
        this.tracker.phase.reconnects++;
        return;
      } catch {
        await sleep(200);
      }
    }
  }

  private connect(url: string, token: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, [WS_SUBPROTOCOL], {
        headers: { authorization: `Bearer ${token}` },
        handshakeTimeout: 5000,
      });
      let opened = false;
      ws.on('error', () => undefined);
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        ws.terminate();
        reject(new Error(`upgrade refused: ${res.statusCode}`));
      });
      ws.once('open', () => {
        opened = true;
        this.ws = ws;
        this.open = true;
        // Everything unaccepted goes again, in the original order.
        for (const o of this.outbox.values()) this.write(o);
        resolve();
      });
      ws.on('message', (data) => this.onFrame(JSON.parse(String(data)) as ServerFrame));
      ws.once('close', () => {
        if (!opened) return reject(new Error('closed before open'));
        if (this.ws === ws) {
          this.ws = undefined;
          this.open = false;
        }
        if (!this.stopped) setTimeout(() => void this.start(), 100);
      });
    });
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'accepted':
        if (this.outbox.delete(f.id)) this.tracker.accepted(f.id);
        return;
      case 'deliver':
        this.tracker.wire(f);
        if (!this.seen.has(f.id)) {
          this.seen.add(f.id);
          this.tracker.show(f);
        }
        this.queueAck(f.id);
        return;
      case 'contact':
        this.queueAck(f.id);
        return;
      case 'delivered':
        this.tracker.receipt(f.id);
        return;
      case 'error': {
        this.tracker.error(f.code);
        const ref = f.ref;
        if (ref === undefined) return;
        const o = this.outbox.get(ref);
        if (o) {
          if (RETRYABLE.has(f.code)) {
            o.at = Date.now() - this.resendMs + 500; // again in half a second
          } else {
            this.outbox.delete(ref);
            this.tracker.refused(ref, f.code);
          }
          return;
        }
        // An ack the gateway could not pass on: its `ref` is the batch's first id.
        const batch = this.ackBatches.get(ref);
        if (batch && RETRYABLE.has(f.code)) {
          this.ackBatches.delete(ref);
          for (const id of batch) this.queueAck(id);
        }
        return;
      }
      case 'drain':
        this.ws?.close();
        return;
      default:
        return;
    }
  }

  private queueAck(id: string): void {
    this.ackQueue.add(id);
    this.ackTimer ??= setTimeout(() => this.flushAcks(), 20);
  }

  private flushAcks(): void {
    this.ackTimer = undefined;
    const ws = this.ws;
    if (!ws || !this.open) {
      // Acked again when redelivered after the reconnect.
      this.ackQueue.clear();
      return;
    }
    const ids = [...this.ackQueue];
    this.ackQueue.clear();
    for (let i = 0; i < ids.length; i += MAX_ACK_IDS) {
      const batch = ids.slice(i, i + MAX_ACK_IDS);
      this.ackBatches.set(batch[0]!, batch);
      if (this.ackBatches.size > 1000) {
        this.ackBatches.delete(this.ackBatches.keys().next().value as string);
      }
      ws.send(JSON.stringify({ type: 'ack', ids: batch }));
    }
  }

  private write(o: Outgoing): void {
    const ws = this.ws;
    if (!ws || !this.open || ws.readyState !== WebSocket.OPEN) return;
    o.at = Date.now();
    ws.send(JSON.stringify(o.frame));
  }

  private resendDue(): void {
    const due = Date.now() - this.resendMs;
    for (const o of this.outbox.values()) if (o.at < due) this.write(o);
  }

  send(to: string): string {
    const id = newMessageId();
    this.tracker.created(id);
    const o: Outgoing = {
      frame: { type: 'send', id, to, kind: 'message', body: `chaos ${id}` },
      at: 0,
    };
    this.outbox.set(id, o);
    this.write(o);
    return id;
  }

  /** Drops the connection abruptly (as a phone losing its network would). */
  drop(): void {
    this.ws?.terminate();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.account.stopped = true;
    clearInterval(this.timer);
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ws?.terminate();
  }
}

// ---------------------------------------------------------------- the run

function publicKeys(): { wrappingKey: string; signingKey: string } {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const ed = generateKeyPairSync('ed25519');
  const spki = (k: typeof rsa.publicKey): string =>
    k.export({ type: 'spki', format: 'der' }).toString('base64');
  return { wrappingKey: spki(rsa.publicKey), signingKey: spki(ed.publicKey) };
}

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
  const stack = new ServiceStack('chaos', backing.servers());
  stack.redis.on('error', () => undefined);
  const clients: ChaosClient[] = [];
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
    const urls = (): string[] => gateways.map((g) => g.wsUrl);

    // Accounts through the api: register, request, accept.
    say(`registering ${opts.pairs * 2} accounts and making ${opts.pairs} contact pairs`);
    const keys = publicKeys();
    const tag = Date.now().toString(36).slice(-5);
    const seenLimit = opts.seenLimit ?? 5000;
    const pairs: Array<{ from: ChaosClient; to: string }> = [];
    for (let i = 0; i < opts.pairs; i++) {
      const names = [`cs${tag}${i}`, `cr${tag}${i}`] as const;
      const sessions: Session[] = [];
      for (const username of names) {
        const s = await apiCall<Session>(apiUrl(), API_PATHS.register, {
          username,
          password: `password-${username}`,
          keys,
        });
        sessions.push(s!);
      }
      await apiCall(
        apiUrl(),
        apiPath(API_PATHS.contactRequest, names[1]),
        {},
        sessions[0]!.accessToken,
      );
      await apiCall(
        apiUrl(),
        apiPath(API_PATHS.contactAccept, names[0]),
        {},
        sessions[1]!.accessToken,
      );
      const made = names.map((n, k) => {
        const acct = new Account(n, `password-${n}`, apiUrl, tracker);
        acct.adopt(sessions[k]!);
        return new ChaosClient(acct, urls, tracker, seenLimit, 2 * i + k);
      });
      clients.push(...made);
      pairs.push({ from: made[0]!, to: names[1] });
    }
    await Promise.all(clients.map((c) => c.start()));
    say(`${clients.length} clients connected; load ${opts.rate} msg/s over ${opts.pairs} pairs`);

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
          const who = clients[0]!.account;
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
          case 'gateway':
            await gateways[which]!.proc.kill9();
            dropSome();
            gateways[which] = await stack.startGateway(gatewayEnv);
            break;
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

/** The per-fault table (markdown). */
export function chaosTable(r: ChaosResult): string {
  const ms = (v: number | null): string => (v === null ? '–' : `${(v / 1000).toFixed(1)} s`);
  const header = [
    'fault',
    'sent',
    'accepted',
    'shown',
    'dup wire',
    'dup shown',
    'lost',
    'unaccepted',
    'down',
    'recovery',
    'longest stall',
    'settled',
    'login while down',
  ];
  const line = (cells: readonly unknown[]): string => `| ${cells.map(String).join(' | ')} |`;
  const rows = r.phases.map((p) =>
    line([
      p.round > 0 ? `${p.fault} #${p.round}` : p.fault,
      p.sent,
      p.accepted,
      p.shown,
      p.dupWire,
      p.dupShown,
      p.lost,
      p.unaccepted,
      ms(p.outageMs),
      ms(p.recoveryMs),
      ms(p.stallMs),
      p.settled ? 'yes' : 'no',
      p.loginWhileDown ?? '–',
    ]),
  );
  const t = r.total;
  rows.push(
    line([
      '**total**',
      t.sent,
      t.accepted,
      t.shown,
      t.dupWire,
      t.dupShown,
      t.lost,
      t.unaccepted,
      '',
      '',
      '',
      r.settled ? 'yes' : 'no',
      '',
    ]),
  );
  return [line(header), line(header.map(() => '---')), ...rows].join('\n');
}
