/**
 * Account deletion: removes everything stored about a user. Without transactions, the
 * user document goes last, so an interrupted deletion leaves an account that can log in
 * and delete itself again rather than orphans nobody can reach.
 */
import { deletePendingOf } from '@gossip/store';
import type { AppContext } from './context.js';
import type { UserDoc } from './store.js';

export async function deleteAccount(ctx: AppContext, user: UserDoc): Promise<void> {
  const { c } = ctx;
  const me = user._id;
  // Sessions first: nothing can act as this user while the rest goes.
  // Ends them on every gateway too (their session keys go, their sockets are closed).
  await ctx.tokens.revokeUser(me, 'account_deleted', { deletedUid: user.uid });
  const peers = await c.contacts
    .find({ owner: me, state: { $ne: 'none' } }, { projection: { peer: 1 } })
    .toArray();
  await c.contacts.deleteMany({ $or: [{ owner: me }, { peer: me }] });
  await deletePendingOf(c, me);
  await ctx.avatars.deleteAllOf(me);
  await ctx.attachments.deleteAllOf(me);
  await c.prekeys.deleteMany({ owner: me });
  await c.users.deleteOne({ _id: me, uid: user.uid });
  // Former contacts learn the relation is gone (after the deleteMany above, which would
  // otherwise remove these events as "from" the deleted user).
  for (const p of peers) await ctx.events.emit(p.peer, me, 'removed');
}
