/**
 * `npm run demo`: two scripted users chat end to end through a running stack (`npm start`)
 * and the demo prints, side by side, what the server stored and what the users read.
 *
 *     npm run demo -- [--api http://127.0.0.1:8080] [--gateway ws://127.0.0.1:8081/ws]
 *                     [--mongo mongodb://HOST:PORT/] [--mongo-db gossip]
 *
 * "Stored" is the `body` of the message's document in MongoDB's `messages` collection,
 * read by the recipient's handler before it returns (the message is acked only after
 * that, so the document still exists). Without `--mongo`, GOSSIP_MONGO_URL or the URL `npm start` saved in .stack/urls.json, it is the
 * body exactly as the server delivered it, which is the stored body byte for byte.
 * The two demo accounts are deleted at the end.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MongoClient, type Collection } from 'mongodb';
import {
  ApiClient,
  GossipClient,
  MemoryKeyStore,
  Messenger,
  type ChatMessage,
} from '@gossip/client';
import { nodeWebSocketFactory } from '@gossip/client/node';

const { values } = parseArgs({
  options: {
    api: { type: 'string', default: 'http://127.0.0.1:8080' },
    gateway: { type: 'string', default: 'ws://127.0.0.1:8081/ws' },
    mongo: { type: 'string' },
    'mongo-db': { type: 'string', default: 'gossip' },
    help: { type: 'boolean', short: 'h' },
  },
});

const say = (line = ''): void => {
  process.stdout.write(line + '\n');
};

function fail(message: string): never {
  process.stderr.write(`demo: ${message}\n`);
  process.exit(1);
}

async function reachable(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return res.ok;
  } catch {
    return false;
  }
}

interface Row {
  from: string;
  to: string;
  stored: string;
  read: string;
}

const SCRIPT: Array<['a' | 'b', string]> = [
  ['a', 'Hi Bob! Is this thing really end-to-end encrypted?'],
  ['b', 'Hi Alice. It is: the server only ever sees ciphertext.'],
  ['a', 'Then tell me a secret: the cake is in the second drawer.'],
  ['b', 'Noted. Nobody at the server can read that.'],
  ['a', 'Perfect. See you at 6 ✌️'],
];

function clip(s: string, n: number): string {
  return s.length <= n ? s.padEnd(n) : s.slice(0, n - 1) + '…';
}

/** A long body as its start and end (the ends differ per message; the starts are headers). */
function ends(s: string, n: number): string {
  if (s.length <= n) return s.padEnd(n);
  const head = Math.floor((n - 1) / 3);
  return `${s.slice(0, head)}…${s.slice(s.length - (n - 1 - head))}`;
}

async function main(): Promise<void> {
  if (values.help) {
    say('usage: npm run demo -- [--api URL] [--gateway WS_URL] [--mongo URL] [--mongo-db NAME]');
    return;
  }
  const apiUrl = values.api.replace(/\/+$/, '');
  const gatewayUrl = values.gateway;
  const gwHttp = new URL(gatewayUrl);
  gwHttp.protocol = gwHttp.protocol === 'wss:' ? 'https:' : 'http:';
  gwHttp.pathname = '/readyz';
  if (!(await reachable(`${apiUrl}/readyz`)) || !(await reachable(gwHttp.toString()))) {
    fail(
      `Gossip is not running (api ${apiUrl}, gateway ${gatewayUrl} not ready): start it with npm start, ` +
        'or pass --api and --gateway',
    );
  }

  const mongoUrl = values.mongo ?? process.env.GOSSIP_MONGO_URL ?? stackMongoUrl();
  let mongo: MongoClient | undefined;
  let messages: Collection<{ _id: string; body: string }> | undefined;
  if (mongoUrl) {
    mongo = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 5000 });
    try {
      await mongo.connect();
    } catch (err) {
      fail(`cannot reach MongoDB at ${mongoUrl}: ${(err as Error).message}`);
    }
    messages = mongo.db(values['mongo-db']).collection('messages');
  }

  const suffix = randomBytes(3).toString('hex');
  const names = { a: `alice_${suffix}`, b: `bob_${suffix}` };
  const passwords = { a: randomBytes(12).toString('hex'), b: randomBytes(12).toString('hex') };
  const users = {
    a: new GossipClient({
      api: new ApiClient({ baseUrl: apiUrl }),
      keyStore: new MemoryKeyStore(),
    }),
    b: new GossipClient({
      api: new ApiClient({ baseUrl: apiUrl }),
      keyStore: new MemoryKeyStore(),
    }),
  };
  say(`Registering ${names.a} and ${names.b} (keys are generated here, on this machine)…`);
  await users.a.register({ username: names.a, password: passwords.a });
  await users.b.register({ username: names.b, password: passwords.b });
  await users.b.api.requestContact(names.a);
  await users.a.acceptContact(names.b); // carries a signed, wrapped conversation key for bob
  say(`${names.b} asked ${names.a} to be a contact; ${names.a} accepted.`);
  say(`Safety number they would compare: ${await users.a.safetyNumber(names.b)}`);
  say();

  const rows: Row[] = [];
  const arrived = new Map<string, () => void>();
  const messengers = {} as Record<'a' | 'b', Messenger>;
  for (const side of ['a', 'b'] as const) {
    const me = names[side];
    messengers[side] = new Messenger({
      gossip: users[side],
      url: gatewayUrl,
      webSocket: nodeWebSocketFactory(),
      onMessage: async (m: ChatMessage) => {
        // Before returning (= before the ack), the server still holds the message.
        const doc = messages ? await messages.findOne({ _id: m.id }) : null;
        rows.push({ from: m.from, to: me, stored: doc?.body ?? m.ciphertext, read: m.text });
        arrived.get(m.id)?.();
      },
    });
    messengers[side].on('error', (e) => {
      if (e.kind !== 'connection' || e.fatal) say(`  (${me}: ${e.kind})`);
    });
  }
  await Promise.all([messengers.a.start(), messengers.b.start()]);
  await Promise.all([messengers.a.waitUntilOpen(), messengers.b.waitUntilOpen()]);

  const ticks: string[] = [];
  for (const [side, text] of SCRIPT) {
    const other = side === 'a' ? 'b' : 'a';
    const sender = messengers[side];
    const { id } = await sender.send(names[other], text);
    const shown = new Promise<void>((resolve) => arrived.set(id, resolve));
    await Promise.race([
      shown,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`"${text}" did not arrive within 15 s`)), 15_000),
      ),
    ]);
    await sender.whenState(id, 'delivered', 15_000);
    ticks.push(id);
  }

  const storedWidth = 60;
  say(
    `${clip('from -> to', 28)} | ${clip(messages ? 'what MongoDB stored (messages.body)' : 'what the server stored and delivered', storedWidth)} | what the user read`,
  );
  say(`${'-'.repeat(28)}-+-${'-'.repeat(storedWidth)}-+-${'-'.repeat(40)}`);
  for (const r of rows) {
    say(`${clip(`${r.from} -> ${r.to}`, 28)} | ${ends(r.stored, storedWidth)} | ${r.read}`);
  }
  say();
  say(
    `(stored bodies are ${rows.map((r) => r.stored.length).join(', ')} characters long; shown by their ends)`,
  );
  const leaked = rows.filter((r) => r.stored.includes(r.read)).length;
  say(
    `${rows.length} messages, each delivered ✓✓ and shown once; plaintext found in stored bodies: ${leaked}.`,
  );
  if (messages) {
    // The ✓✓ (the receipt) goes out before the engine deletes what was acked (so a crash
    // between the two costs a second receipt, never a missing one): give the deletes up to
    // 10 s to follow it.
    const deadline = Date.now() + 10_000;
    let left = await messages.countDocuments({ _id: { $in: ticks } });
    while (left > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      left = await messages.countDocuments({ _id: { $in: ticks } });
    }
    say(`Documents left in MongoDB for these messages after the acks: ${left}.`);
  } else {
    say(
      '(Pass --mongo URL or set GOSSIP_MONGO_URL to read the stored bodies from MongoDB itself.)',
    );
  }

  await Promise.all([messengers.a.stop(), messengers.b.stop()]);
  await users.a.api.deleteAccount(passwords.a).catch(() => undefined);
  await users.b.api.deleteAccount(passwords.b).catch(() => undefined);
  await mongo?.close();
  say('Demo accounts deleted.');
}

main().then(
  () => process.exit(0),
  (err: unknown) => fail(err instanceof Error ? err.message : String(err)),
);

/** The MongoDB URL `npm start` saved in `.stack/urls.json`, if the local stack is running. */
function stackMongoUrl(): string | undefined {
  try {
    const saved = JSON.parse(readFileSync(join(process.cwd(), '.stack/urls.json'), 'utf8')) as {
      mongo?: string;
    };
    return saved.mongo;
  } catch {
    return undefined;
  }
}
