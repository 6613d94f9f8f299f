/**
 * The contact life cycle. Each side of a pair has its own document (`owner:peer`, see
 * @gossip/protocol contacts.ts); both are written for every transition, the caller's
 * side last, so a crash between the two writes leaves the caller able to retry.
 *
 *   request   A->B: A sees `outgoing`, B sees `incoming`       (B gets `request`)
 *   accept    B:    both `accepted`                              (A gets `accepted`)
 *   reject    B:    both gone                                    (A gets `rejected`)
 *   remove    either side, any state: both gone                  (other gets `removed`)
 *   block     A blocks B: A's side `blocked` (state kept)         (B is not told)
 *   unblock   A: `blocked` cleared                               (B is not told)
 *
 * "Gone" keeps a document with state `none` while its owner's block stands.
 *
 * A block is never revealed to the blocked user: no event, their sends are refused with
 * `not_contact` (see @gossip/protocol `sendPermission`), and a request they send to the
 * blocker is answered like any other but only ever shows on their own side as `outgoing`.
 */
import { contactDocId, type Contact, type ContactDoc, type ContactState } from '@gossip/protocol';
import type { AppContext } from './context.js';
import { ApiError } from './errors.js';

async function sides(ctx: AppContext, me: string, peer: string) {
  const docs = await ctx.c.contacts
    .find({ _id: { $in: [contactDocId(me, peer), contactDocId(peer, me)] } })
    .toArray();
  return {
    mine: docs.find((d) => d._id === contactDocId(me, peer)) ?? null,
    theirs: docs.find((d) => d._id === contactDocId(peer, me)) ?? null,
  };
}

async function setState(ctx: AppContext, owner: string, peer: string, state: ContactState) {
  const _id = contactDocId(owner, peer);
  const since = new Date(ctx.now());
  if (state === 'none') {
    // Drop the document unless it carries its owner's block.
    await ctx.c.contacts.deleteOne({ _id, blocked: false });
    await ctx.c.contacts.updateOne({ _id }, { $set: { state, since } });
    return;
  }
  await ctx.c.contacts.updateOne(
    { _id },
    { $set: { owner, peer, state, since }, $setOnInsert: { blocked: false } },
    { upsert: true },
  );
}

/** Both sides of the pair to `state`: the peer's first, the caller's last (see above). */
async function setBoth(ctx: AppContext, me: string, peer: string, state: ContactState) {
  await setState(ctx, peer, me, state);
  await setState(ctx, me, peer, state);
}

async function requireUser(ctx: AppContext, username: string): Promise<void> {
  const found = await ctx.c.users.findOne({ _id: username }, { projection: { _id: 1 } });
  if (!found) throw new ApiError('user_not_found');
}

function notSelf(me: string, peer: string): void {
  if (me === peer) throw new ApiError('contact_self');
}

export async function requestContact(ctx: AppContext, me: string, peer: string): Promise<void> {
  notSelf(me, peer);
  await requireUser(ctx, peer);
  const { mine, theirs } = await sides(ctx, me, peer);
  if (mine?.blocked) throw new ApiError('blocked', 'You blocked this user; unblock them first.');
  // An `outgoing` the peer has no side of (it went to a blocker, or a crash came between
  // the two writes) is sent again rather than refused.
  const dangling = mine?.state === 'outgoing' && (!theirs || theirs.state === 'none');
  if (mine && mine.state !== 'none' && !dangling) {
    throw new ApiError(
      'contact_exists',
      mine.state === 'incoming'
        ? 'This user already asked you: accept their request instead.'
        : undefined,
    );
  }
  if (theirs?.blocked) {
    // The blocker never sees it; to the sender it looks like a request not yet answered.
    await setState(ctx, me, peer, 'outgoing');
    return;
  }
  await setState(ctx, peer, me, 'incoming');
  await setState(ctx, me, peer, 'outgoing');
  await ctx.events.emit(peer, me, 'request');
}

/** Answers the request `peer` sent `me` (accept or reject): both sides to `state`. */
async function answerRequest(ctx: AppContext, me: string, peer: string, state: ContactState) {
  notSelf(me, peer);
  const { mine } = await sides(ctx, me, peer);
  if (mine?.state !== 'incoming')
    throw new ApiError('contact_not_found', 'No request from this user.');
  await setBoth(ctx, me, peer, state);
}

export async function acceptContact(
  ctx: AppContext,
  me: string,
  peer: string,
  keyEnvelope?: string,
): Promise<void> {
  await answerRequest(ctx, me, peer, 'accepted');
  await ctx.events.emit(
    peer,
    me,
    'accepted',
    keyEnvelope === undefined ? {} : { body: keyEnvelope },
  );
}

export async function rejectContact(ctx: AppContext, me: string, peer: string): Promise<void> {
  await answerRequest(ctx, me, peer, 'none');
  await ctx.events.emit(peer, me, 'rejected');
}

export async function removeContact(ctx: AppContext, me: string, peer: string): Promise<void> {
  notSelf(me, peer);
  const { mine, theirs } = await sides(ctx, me, peer);
  if (!mine || mine.state === 'none') throw new ApiError('contact_not_found');
  await setBoth(ctx, me, peer, 'none');
  // A request the peer never saw (they had blocked `me`) is withdrawn without telling them.
  if (theirs && theirs.state !== 'none') await ctx.events.emit(peer, me, 'removed');
}

export async function blockContact(ctx: AppContext, me: string, peer: string): Promise<void> {
  notSelf(me, peer);
  await requireUser(ctx, peer);
  const _id = contactDocId(me, peer);
  // No event: telling the blocked user would reveal the block.
  await ctx.c.contacts.updateOne(
    { _id },
    {
      $set: { owner: me, peer, blocked: true },
      $setOnInsert: { state: 'none', since: new Date(ctx.now()) },
    },
    { upsert: true },
  );
}

export async function unblockContact(ctx: AppContext, me: string, peer: string): Promise<void> {
  notSelf(me, peer);
  const _id = contactDocId(me, peer);
  const doc = await ctx.c.contacts.findOne({ _id });
  if (!doc?.blocked) throw new ApiError('contact_not_found', 'This user is not blocked.');
  // No event either: the other side never learnt of the block.
  if (doc.state === 'none') await ctx.c.contacts.deleteOne({ _id });
  else await ctx.c.contacts.updateOne({ _id }, { $set: { blocked: false } });
}

export async function listContacts(ctx: AppContext, me: string): Promise<Contact[]> {
  const docs = await ctx.c.contacts.find({ owner: me }).sort({ peer: 1 }).toArray();
  return docs.map((d: ContactDoc) => ({
    username: d.peer,
    state: d.state,
    blocked: d.blocked,
    since: d.since.toISOString(),
  }));
}
