/**
 * The whole contact life cycle, the stored send rule the gateway and engine apply, and
 * the contact events (MongoDB outbox + Redis publish) on real FerretDB and Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CONTACTS_COLLECTION,
  EVENTS_CHANNEL,
  contactDocId,
  parseServerFrame,
  sendPermissionFromDocs,
  type Contact,
  type ContactFrame,
  type EventDoc,
  type SendDecision,
  type Session,
} from '@gossip/protocol';
import { Redis } from 'ioredis';
import { PASSWORD, bearer, errorOf, keySets, register, startApi, type Harness } from './helpers.js';

let h: Harness;
let keys: Awaited<ReturnType<typeof keySets>>;
const s: Record<string, Session> = {};

before(async () => {
  keys = await keySets();
  h = await startApi();
  for (const name of ['alice', 'bob', 'carol', 'dan', 'eve']) {
    s[name] = await register(h.app, name, keys[0]!);
  }
});
after(() => h.close());

function act(who: string, method: 'POST' | 'DELETE', path: string, payload?: object) {
  return h.app.inject({ method, url: `/v1/contacts/${path}`, headers: bearer(s[who]!), payload });
}

async function list(who: string): Promise<Record<string, Omit<Contact, 'username' | 'since'>>> {
  const res = await h.app.inject({ method: 'GET', url: '/v1/contacts', headers: bearer(s[who]!) });
  assert.equal(res.statusCode, 200);
  const out: Record<string, Omit<Contact, 'username' | 'since'>> = {};
  for (const c of res.json<{ contacts: Contact[] }>().contacts) {
    out[c.username] = { state: c.state, blocked: c.blocked };
  }
  return out;
}

/** The rule exactly as the delivery path applies it: one `$in` query and the pure function. */
async function mayMessage(from: string, to: string): Promise<SendDecision> {
  const docs = await h.db
    .collection<{ _id: string; state: Contact['state']; blocked: boolean }>(CONTACTS_COLLECTION)
    .find({ _id: { $in: [contactDocId(from, to), contactDocId(to, from)] } })
    .toArray();
  return sendPermissionFromDocs(from, to, docs);
}

async function eventsFor(to: string): Promise<Array<Pick<EventDoc, 'from' | 'event' | 'body'>>> {
  const docs = await h.db.collection<EventDoc>('events').find({ to }).sort({ at: 1 }).toArray();
  return docs.map((d) => {
    const e: Pick<EventDoc, 'from' | 'event' | 'body'> = { from: d.from, event: d.event };
    if (d.body !== undefined) e.body = d.body;
    return e;
  });
}

describe('contact life cycle', () => {
  test('request: one side outgoing, the other incoming, still no messaging', async () => {
    assert.equal((await act('alice', 'POST', 'bob/request')).statusCode, 204);
    assert.deepEqual(await list('alice'), { bob: { state: 'outgoing', blocked: false } });
    assert.deepEqual(await list('bob'), { alice: { state: 'incoming', blocked: false } });
    assert.equal(await mayMessage('alice', 'bob'), 'not_contact');
    assert.equal(await mayMessage('bob', 'alice'), 'not_contact');
    assert.deepEqual(await eventsFor('bob'), [{ from: 'alice', event: 'request' }]);
  });

  test('a repeated or crossing request is a conflict', async () => {
    assert.deepEqual(errorOf(await act('alice', 'POST', 'bob/request')), {
      status: 409,
      code: 'contact_exists',
    });
    const crossing = await act('bob', 'POST', 'alice/request');
    assert.deepEqual(errorOf(crossing), { status: 409, code: 'contact_exists' });
    assert.match(crossing.body, /accept/);
  });

  test('only the asked side can accept', async () => {
    assert.deepEqual(errorOf(await act('alice', 'POST', 'bob/accept')), {
      status: 404,
      code: 'contact_not_found',
    });
  });

  test('accept: both accepted, messages flow both ways, the key envelope reaches the requester', async () => {
    const res = await act('bob', 'POST', 'alice/accept', { keyEnvelope: 'c2lnbmVkLXdyYXBwZWQ=' });
    assert.equal(res.statusCode, 204);
    assert.deepEqual(await list('alice'), { bob: { state: 'accepted', blocked: false } });
    assert.deepEqual(await list('bob'), { alice: { state: 'accepted', blocked: false } });
    assert.equal(await mayMessage('alice', 'bob'), 'ok');
    assert.equal(await mayMessage('bob', 'alice'), 'ok');
    assert.deepEqual(await eventsFor('alice'), [
      { from: 'bob', event: 'accepted', body: 'c2lnbmVkLXdyYXBwZWQ=' },
    ]);
  });

  test('block: neither side can message; the blocked side is told not_contact and gets no event', async () => {
    const before = await eventsFor('alice');
    assert.equal((await act('bob', 'POST', 'alice/block')).statusCode, 204);
    assert.deepEqual(await list('bob'), { alice: { state: 'accepted', blocked: true } });
    // The blocked sender hears what a stranger hears; only the blocker is told `blocked`.
    assert.equal(await mayMessage('alice', 'bob'), 'not_contact');
    assert.equal(await mayMessage('bob', 'alice'), 'blocked');
    // Blocking twice changes nothing either.
    assert.equal((await act('bob', 'POST', 'alice/block')).statusCode, 204);
    assert.deepEqual(await eventsFor('alice'), before);
  });

  test('unblock restores the contact, silently', async () => {
    const before = await eventsFor('alice');
    assert.equal((await act('bob', 'POST', 'alice/unblock')).statusCode, 204);
    assert.deepEqual(await list('bob'), { alice: { state: 'accepted', blocked: false } });
    assert.equal(await mayMessage('alice', 'bob'), 'ok');
    assert.deepEqual(await eventsFor('alice'), before);
    assert.deepEqual(errorOf(await act('bob', 'POST', 'alice/unblock')), {
      status: 404,
      code: 'contact_not_found',
    });
  });

  test('remove: either side ends it for both', async () => {
    assert.equal((await act('alice', 'DELETE', 'bob')).statusCode, 204);
    assert.deepEqual(await list('alice'), {});
    assert.deepEqual(await list('bob'), {});
    assert.equal(await mayMessage('alice', 'bob'), 'not_contact');
    assert.deepEqual((await eventsFor('bob')).at(-1), { from: 'alice', event: 'removed' });
    assert.deepEqual(errorOf(await act('alice', 'DELETE', 'bob')), {
      status: 404,
      code: 'contact_not_found',
    });
  });

  test('reject: the request is gone on both sides and the requester is told', async () => {
    assert.equal((await act('carol', 'POST', 'dan/request')).statusCode, 204);
    assert.equal((await act('dan', 'POST', 'carol/reject')).statusCode, 204);
    assert.deepEqual(await list('carol'), {});
    assert.deepEqual(await list('dan'), {});
    assert.deepEqual((await eventsFor('carol')).at(-1), { from: 'dan', event: 'rejected' });
    assert.deepEqual(errorOf(await act('dan', 'POST', 'carol/reject')), {
      status: 404,
      code: 'contact_not_found',
    });
    // A withdrawn request (remove by the requester) works too.
    assert.equal((await act('carol', 'POST', 'dan/request')).statusCode, 204);
    assert.equal((await act('carol', 'DELETE', 'dan')).statusCode, 204);
    assert.deepEqual(await list('dan'), {});
  });

  test("a blocked stranger's request looks pending to them and never reaches the blocker", async () => {
    const danEvents = await eventsFor('dan');
    assert.equal((await act('dan', 'POST', 'eve/block')).statusCode, 204);
    assert.deepEqual(await list('dan'), { eve: { state: 'none', blocked: true } });
    assert.equal((await act('eve', 'POST', 'dan/request')).statusCode, 204);
    assert.deepEqual(await list('eve'), { dan: { state: 'outgoing', blocked: false } });
    assert.deepEqual(await list('dan'), { eve: { state: 'none', blocked: true } });
    assert.deepEqual(await eventsFor('dan'), danEvents);
    // The blocker is told about their own block.
    assert.deepEqual(errorOf(await act('dan', 'POST', 'eve/request')), {
      status: 403,
      code: 'blocked',
    });
    assert.equal(await mayMessage('eve', 'dan'), 'not_contact');
    // eve withdraws her unanswered request.
    assert.equal((await act('eve', 'DELETE', 'dan')).statusCode, 204);
    assert.equal((await act('dan', 'POST', 'eve/unblock')).statusCode, 204);
    assert.deepEqual(await list('dan'), {});
    assert.equal(
      await h.db.collection(CONTACTS_COLLECTION).countDocuments({ owner: 'dan', peer: 'eve' }),
      0,
    );
  });

  test('a block survives a removal and a re-request is still refused', async () => {
    assert.equal((await act('alice', 'POST', 'eve/request')).statusCode, 204);
    assert.equal((await act('eve', 'POST', 'alice/block')).statusCode, 204);
    assert.equal((await act('alice', 'DELETE', 'eve')).statusCode, 204);
    assert.deepEqual(await list('eve'), { alice: { state: 'none', blocked: true } });
    const eveEvents = await eventsFor('eve');
    assert.equal((await act('alice', 'POST', 'eve/request')).statusCode, 204);
    assert.deepEqual(await list('eve'), { alice: { state: 'none', blocked: true } });
    assert.deepEqual(await eventsFor('eve'), eveEvents);
  });

  test('self, unknown users and bad names are refused', async () => {
    const cases: Array<[path: string, body: object | undefined, status: number, code: string]> = [
      ['alice/request', undefined, 400, 'contact_self'],
      ['ghost/request', undefined, 404, 'user_not_found'],
      ['ghost/block', undefined, 404, 'user_not_found'],
      ['Not%20Valid/request', undefined, 400, 'validation_failed'],
      ['bob/request', { note: 'hi' }, 400, 'validation_failed'],
    ];
    for (const [path, body, status, code] of cases) {
      assert.deepEqual(errorOf(await act('alice', 'POST', path, body)), { status, code }, path);
    }
  });
});

describe('contact events', () => {
  test('each event is published on Redis as a valid contact frame for its recipient', async () => {
    const sub = new Redis(h.config.redisUrl);
    const got: Array<{ to: string; frame: ContactFrame }> = [];
    await sub.subscribe(`${h.config.redisPrefix}${EVENTS_CHANNEL}`);
    sub.on('message', (_ch, msg) => got.push(JSON.parse(msg) as (typeof got)[number]));
    try {
      assert.equal((await act('carol', 'POST', 'eve/request')).statusCode, 204);
      assert.equal((await act('eve', 'POST', 'carol/accept')).statusCode, 204);
      for (let i = 0; i < 250 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(
        got.map((g) => [g.to, g.frame.event, g.frame.from]),
        [
          ['eve', 'request', 'carol'],
          ['carol', 'accepted', 'eve'],
        ],
      );
      for (const g of got) {
        const parsed = parseServerFrame(JSON.stringify(g.frame));
        assert.ok(parsed.ok, JSON.stringify(g.frame));
        const stored = await h.db.collection<EventDoc>('events').findOne({ _id: g.frame.id });
        assert.equal(stored?.to, g.to);
      }
    } finally {
      sub.disconnect();
    }
  });

  test('a key change notifies every contact with the new key version', async () => {
    // carol and eve are contacts now.
    const put = await h.app.inject({
      method: 'PUT',
      url: '/v1/me/keys',
      headers: bearer(s.carol!),
      payload: { keys: keys[1], password: PASSWORD },
    });
    assert.equal(put.statusCode, 200);
    const ev = await h.db
      .collection<EventDoc>('events')
      .findOne({ to: 'eve', from: 'carol', event: 'key-changed' });
    assert.equal(ev?.keyVersion, 2);
    assert.equal(
      await h.db.collection<EventDoc>('events').countDocuments({ to: 'bob', event: 'key-changed' }),
      0,
    );
  });
});
