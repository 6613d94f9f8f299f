/** The contact list: loading, rendering, requests, accepts and key-change warnings. */
import { ApiError, type KeyChangedError } from '@gossip/client';
import { $, fill, h } from './dom.js';
import { app, banner, describe, emitApp, keyWarnings, type ContactView } from './state.js';

export async function refreshContacts(): Promise<void> {
  const a = app.account;
  if (!a) return;
  try {
    const [{ contacts: list }, pinned] = await Promise.all([
      a.api.listContacts(),
      a.gossip.keyStore.listPinned(),
    ]);
    const verified = new Map(pinned.map((p) => [p.username, p.verified]));
    const reverify = new Map(pinned.map((p) => [p.username, p.needsVerification === true]));
    const next = new Map<string, ContactView>();
    for (const c of list) {
      const old = app.contacts.get(c.username);
      const warning = keyWarnings.get(c.username);
      next.set(c.username, {
        ...c,
        verified: warning ? false : (verified.get(c.username) ?? false),
        needsVerification: reverify.get(c.username) ?? false,
        unread: old?.unread ?? 0,
        ...(warning ? { keyWarning: warning } : {}),
      });
    }
    app.contacts = next;
    const status = $('add-status');
    for (const c of next.values()) {
      if (c.state === 'accepted' && status.textContent?.startsWith(`Asked ${c.username};`)) {
        status.textContent = '';
      }
    }
    renderContacts();
    emitApp('contacts-changed', undefined);
  } catch (err) {
    banner(`Could not load contacts: ${describe(err)}`);
  }
}

export function renderContacts(): void {
  const items = [...app.contacts.values()]
    .sort((x, y) => x.username.localeCompare(y.username))
    .map((c) => {
      const tags: (Node | string)[] = [];
      if (c.state === 'incoming') {
        tags.push(
          h('span', { class: 'tag' }, 'wants to chat'),
          h(
            'button',
            { 'data-testid': `accept-${c.username}`, onclick: () => void accept(c.username) },
            'Accept',
          ),
          h(
            'button',
            {
              class: 'secondary',
              onclick: () => void a(() => app.account?.api.rejectContact(c.username)),
            },
            'Reject',
          ),
        );
      } else if (c.state === 'outgoing') {
        tags.push(h('span', { class: 'tag' }, 'requested'));
      }
      if (c.blocked) tags.push(h('span', { class: 'tag warn' }, 'blocked'));
      if (c.keyWarning) tags.push(h('span', { class: 'tag warn' }, '⚠ identity reset'));
      else if (c.needsVerification) tags.push(h('span', { class: 'tag warn' }, 'verify again'));
      else if (c.verified) tags.push(h('span', { class: 'tag ok' }, '✓ verified'));
      if (c.unread > 0) tags.push(h('span', { class: 'tag unread' }, String(c.unread)));
      return h(
        'li',
        {
          class: c.username === app.selected ? 'selected' : '',
          'data-testid': `contact-${c.username}`,
          'data-state': c.state,
        },
        h(
          'button',
          {
            class: 'link',
            disabled: c.state !== 'accepted',
            onclick: () => emitApp('select', c.username),
          },
          c.username,
        ),
        ...tags,
      );
    });
  fill(
    $('contacts'),
    items.length ? items : h('li', { class: 'muted' }, 'No contacts yet: add one above.'),
  );
}

/** Runs an action, then refreshes the contacts; shows its error. */
async function a(fn: () => Promise<unknown> | undefined): Promise<void> {
  try {
    await fn();
  } catch (err) {
    banner(describe(err));
  }
  await refreshContacts();
}

async function accept(username: string): Promise<void> {
  await a(() => app.account?.gossip.acceptContact(username));
}

export async function requestContact(ev: Event): Promise<void> {
  ev.preventDefault();
  const input = $<HTMLInputElement>('add-user');
  const username = input.value.trim();
  const status = $('add-status');
  if (!app.account || !username) return;
  try {
    if (username === app.account.username) throw new Error('that is you');
    const existing = app.contacts.get(username);
    if (existing?.state === 'incoming') {
      await accept(username);
    } else {
      await app.account.api.requestContact(username);
      // Pin their keys now (trust on first use), so a later change is noticed.
      await app.account.gossip.pinnedKeys(username);
    }
    status.textContent = `Asked ${username}; you can chat once they accept.`;
    input.value = '';
    setTimeout(() => {
      if (status.textContent?.startsWith(`Asked ${username};`)) status.textContent = '';
    }, 10_000);
  } catch (err) {
    status.textContent =
      err instanceof ApiError && err.status === 404
        ? `There is no user ${username}.`
        : describe(err);
  }
  await refreshContacts();
}

export function warnKeyChange(err: KeyChangedError): void {
  keyWarnings.set(err.username, err);
  const c = app.contacts.get(err.username);
  if (c) {
    c.keyWarning = err;
    c.verified = false;
  }
  banner(
    `IDENTITY RESET: ${err.username}'s keys changed and the change is not signed by the keys ` +
      `you trusted. Messages to and from ${err.username} are held until you compare their new ` +
      'fingerprint with them and trust the new keys.',
  );
  renderContacts();
  emitApp('contacts-changed', err.username);
}
