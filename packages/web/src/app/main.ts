/**
 * The Gossip web client: one page, plain DOM. Everything cryptographic happens in
 * `@gossip/client` (WebCrypto): this file only wires the SDK to the page and to
 * IndexedDB. It talks to one origin: `/v1` (the api) and `/ws` (the gateway) are
 * forwarded by the server that serves the page.
 */
import {
  ApiClient,
  ApiError,
  FingerprintMismatchError,
  GossipClient,
  KeyChangedError,
  Messenger,
  NotLoggedInError,
  type SessionTokens,
} from '@gossip/client';
import { fingerprint } from '@gossip/crypto';
import type { Contact } from '@gossip/protocol';
import { $, fill, groups, h, time } from './dom.js';
import {
  History,
  IdbKeyStore,
  IdbMessengerStore,
  loadSession,
  saveSession,
  type ChatLine,
  type MessageState,
} from './stores.js';

interface Account {
  username: string;
  api: ApiClient;
  gossip: GossipClient;
  messenger: Messenger;
  history: History;
}

interface ContactView extends Contact {
  verified: boolean;
  /** Was verified, then their keys changed: nothing is sent until verified again. */
  needsVerification: boolean;
  keyWarning?: KeyChangedError;
  unread: number;
}

let account: Account | undefined;
let contacts = new Map<string, ContactView>();
let selected: string | undefined;
/** Contacts whose keys changed and are not trusted again yet (kept across list refreshes). */
const keyWarnings = new Map<string, KeyChangedError>();
/** Status events that arrived before their history line was written. */
const earlyStatus = new Map<string, MessageState>();

const STATE_LABEL: Record<MessageState, string> = {
  sending: 'sending…',
  accepted: '✓ accepted',
  delivered: '✓✓ delivered',
  failed: '✗ not sent',
  received: '',
};

// ---------------------------------------------------------------- banner and errors

/** Shows a message at the top of the page until it is clicked or replaced. */
function banner(text: string, kind: 'error' | 'info' = 'error'): void {
  const b = $('banner');
  b.title = 'click to dismiss';
  b.textContent = text;
  b.dataset.kind = kind;
  b.hidden = text === '';
}

function describe(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

// ---------------------------------------------------------------- session

function newApi(session: SessionTokens | null): ApiClient {
  return new ApiClient({
    baseUrl: location.origin,
    // The api is this page's own origin: if the page came over plain http, refusing http
    // now would protect nothing the page load did not already expose. The SDK still
    // refuses plain http for any other origin.
    allowInsecure: location.protocol === 'http:',
    session,
    onSession: (s) => saveSession(s),
  });
}

function gatewayUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

async function boot(): Promise<void> {
  let session: SessionTokens | null = null;
  try {
    session = await loadSession();
  } catch (err) {
    banner(`This browser's storage cannot be used: ${describe(err)}`);
  }
  if (session && session.refreshExpiresAt > Date.now()) {
    const api = newApi(session);
    const gossip = new GossipClient({ api, keyStore: new IdbKeyStore(session.username) });
    try {
      await gossip.identity();
      await enter(api, gossip);
      return;
    } catch (err) {
      banner(
        err instanceof NotLoggedInError
          ? 'Your session ended: log in again.'
          : `Could not resume: ${describe(err)}`,
      );
    }
  }
  showAuth();
}

function showAuth(): void {
  $('app-view').hidden = true;
  $('logout').hidden = true;
  $('me').textContent = '';
  $('auth-view').hidden = false;
  $<HTMLInputElement>('auth-user').focus();
}

async function authenticate(mode: 'login' | 'register'): Promise<void> {
  const form = $<HTMLFormElement>('auth-form');
  if (!form.reportValidity()) return;
  const username = $<HTMLInputElement>('auth-user').value.trim();
  const password = $<HTMLInputElement>('auth-pass').value;
  const error = $('auth-error');
  error.textContent = '';
  for (const b of form.querySelectorAll('button')) b.disabled = true;
  try {
    const api = newApi(null);
    const gossip = new GossipClient({ api, keyStore: new IdbKeyStore(username), username });
    if (mode === 'register') {
      await gossip.register({ username, password });
    } else {
      const { hasKeys } = await gossip.login(username, password);
      if (!hasKeys) {
        const ok = confirm(
          'This browser does not hold the private keys of this account (it was created ' +
            'elsewhere, or its keys were replaced). Publish new keys from this browser? ' +
            'Your contacts will be warned that your keys changed, and messages sent to the ' +
            'old keys cannot be read here.',
        );
        if (!ok) {
          await api.logout();
          throw new Error('logged out: this browser has no keys for the account');
        }
        await gossip.changeKeys(password);
      }
    }
    $<HTMLInputElement>('auth-pass').value = '';
    await enter(api, gossip);
  } catch (err) {
    error.textContent =
      err instanceof ApiError && err.code === 'invalid_credentials'
        ? 'Wrong username or password.'
        : describe(err);
  } finally {
    for (const b of form.querySelectorAll('button')) b.disabled = false;
  }
}

async function enter(api: ApiClient, gossip: GossipClient): Promise<void> {
  const username = gossip.username;
  const history = new History(username);
  const messenger = new Messenger({
    gossip,
    url: gatewayUrl(),
    store: new IdbMessengerStore(username),
    onMessage: async (m) => {
      await history.add({
        id: m.id,
        peer: m.from,
        direction: 'in',
        text: m.text,
        at: m.sentAt,
        state: 'received',
      });
      showTyping(m.from, false);
      const c = contacts.get(m.from);
      if (c && m.from !== selected) c.unread++;
      renderContacts();
      if (m.from === selected) await renderMessages();
    },
  });
  account = { username, api, gossip, messenger, history };

  messenger.on('connection', ({ state }) => renderConnection(state));
  messenger.on('signal', ({ from, signal }) => {
    if (signal === 'typing') showTyping(from, true);
    else if (signal === 'typing-stopped') showTyping(from, false);
  });
  messenger.on('status', (ev) => void applyStatus(ev.to, ev.id, ev.state));
  messenger.on('contact', (ev) => {
    if (ev.event === 'key-changed' && 'own' in ev) {
      if (ev.replaced) {
        banner(
          'Another session published new keys for your account. This browser can no longer ' +
            'read new messages: log in again here to publish keys from this browser.',
        );
      }
      return;
    }
    if (ev.event === 'key-changed' && 'error' in ev && ev.error) warnKeyChange(ev.error);
    else if (ev.event === 'key-changed' && 'needsVerification' in ev && ev.needsVerification) {
      banner(
        `${ev.from} changed keys (signed by their old ones). You had verified them: compare ` +
          'the new safety number and verify them again before writing.',
      );
    }
    void refreshContacts();
  });
  messenger.on('error', (e) => {
    if (e.kind === 'key_changed') warnKeyChange(e.error);
    else if (e.kind === 'send_failed') void applyStatus(e.to, e.id, 'failed');
    else if (e.kind === 'connection' && e.error instanceof NotLoggedInError) {
      banner('Your session ended: log in again.');
      void leave(false);
    } else if (e.kind === 'undecryptable') {
      banner(`A message from ${e.from} could not be decrypted and was dropped.`);
    }
  });

  $('auth-view').hidden = true;
  $('app-view').hidden = false;
  $('logout').hidden = false;
  $('me').textContent = username;
  banner('');
  const own = await gossip.ownPublicKeys();
  $('my-fingerprint').textContent = groups(await fingerprint({ username, ...own }));
  await refreshContacts();
  await messenger.start();
  void recheckKeys(gossip);
}

/**
 * Compares every pinned contact's keys with the directory once per session, so a key
 * change that happened while this page was closed is flagged without waiting for a message.
 */
async function recheckKeys(gossip: GossipClient): Promise<void> {
  for (const pinned of await gossip.keyStore.listPinned()) {
    try {
      await gossip.contactKeys(pinned.username);
    } catch (err) {
      if (err instanceof KeyChangedError) warnKeyChange(err);
    }
  }
}

async function leave(revoke: boolean): Promise<void> {
  const a = account;
  account = undefined;
  selected = undefined;
  contacts = new Map();
  keyWarnings.clear();
  fill($('contacts'));
  fill($('chat'), h('p', { class: 'muted' }, 'Pick a contact to chat.'));
  renderConnection('closed');
  if (a) {
    await a.messenger.stop().catch(() => undefined);
    if (revoke) await a.api.logout().catch(() => undefined);
  }
  await saveSession(null);
  showAuth();
}

function renderConnection(state: string): void {
  const el = $('conn');
  el.dataset.state = state;
  el.textContent = state === 'open' ? 'online' : state === 'connecting' ? 'connecting…' : 'offline';
}

// ---------------------------------------------------------------- contacts

async function refreshContacts(): Promise<void> {
  const a = account;
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
      const old = contacts.get(c.username);
      const warning = keyWarnings.get(c.username);
      next.set(c.username, {
        ...c,
        verified: warning ? false : (verified.get(c.username) ?? false),
        needsVerification: reverify.get(c.username) ?? false,
        unread: old?.unread ?? 0,
        ...(warning ? { keyWarning: warning } : {}),
      });
    }
    contacts = next;
    const status = $('add-status');
    for (const c of next.values()) {
      if (c.state === 'accepted' && status.textContent?.startsWith(`Asked ${c.username};`)) {
        status.textContent = '';
      }
    }
    renderContacts();
    if (selected) renderChatHeader();
  } catch (err) {
    banner(`Could not load contacts: ${describe(err)}`);
  }
}

function renderContacts(): void {
  const items = [...contacts.values()]
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
              onclick: () => void a(() => account?.api.rejectContact(c.username)),
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
          class: c.username === selected ? 'selected' : '',
          'data-testid': `contact-${c.username}`,
          'data-state': c.state,
        },
        h(
          'button',
          {
            class: 'link',
            disabled: c.state !== 'accepted',
            onclick: () => void select(c.username),
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
  await a(() => account?.gossip.acceptContact(username));
}

async function requestContact(ev: Event): Promise<void> {
  ev.preventDefault();
  const input = $<HTMLInputElement>('add-user');
  const username = input.value.trim();
  const status = $('add-status');
  if (!account || !username) return;
  try {
    if (username === account.username) throw new Error('that is you');
    const existing = contacts.get(username);
    if (existing?.state === 'incoming') {
      await accept(username);
    } else {
      await account.api.requestContact(username);
      // Pin their keys now (trust on first use), so a later change is noticed.
      await account.gossip.pinnedKeys(username);
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

function warnKeyChange(err: KeyChangedError): void {
  keyWarnings.set(err.username, err);
  const c = contacts.get(err.username);
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
  if (selected === err.username) renderChatHeader();
}

// ---------------------------------------------------------------- the chat

async function select(username: string): Promise<void> {
  const acc = account;
  if (!acc) return;
  selected = username;
  const c = contacts.get(username);
  if (c) c.unread = 0;
  const chat = $('chat');
  fill(
    chat,
    h('div', { id: 'chat-head', class: 'chat-head' }),
    h('div', { id: 'safety', class: 'safety', hidden: true }),
    h('ol', { id: 'messages', class: 'messages', 'data-testid': 'messages' }),
    h(
      'form',
      { id: 'composer', class: 'composer', onsubmit: (ev: Event) => void send(ev) },
      h('span', { id: 'typing', class: 'typing muted', 'data-testid': 'typing', hidden: true }),
      h('input', {
        id: 'text',
        oninput: () => typed(username),
        placeholder: `Message ${username}`,
        autocomplete: 'off',
        maxlength: 4000,
        'data-testid': 'composer',
      }),
      h('button', { type: 'submit', 'data-testid': 'send' }, 'Send'),
    ),
  );
  renderContacts();
  renderChatHeader();
  await renderMessages();
  $<HTMLInputElement>('text').focus();
  // Re-check the directory on every open: a changed key shows up here even offline.
  try {
    await acc.gossip.contactKeys(username);
  } catch (err) {
    if (err instanceof KeyChangedError) warnKeyChange(err);
  }
}

function renderChatHeader(): void {
  const head = document.getElementById('chat-head');
  const c = selected ? contacts.get(selected) : undefined;
  if (!head || !c) return;
  fill(
    head,
    h('h2', {}, c.username),
    c.keyWarning
      ? h('span', { class: 'tag warn', 'data-testid': 'key-warning' }, '⚠ identity reset')
      : c.needsVerification
        ? h('span', { class: 'tag warn', 'data-testid': 'needs-verification' }, 'verify again')
        : c.verified
          ? h('span', { class: 'tag ok', 'data-testid': 'verified' }, '✓ verified')
          : h('span', { class: 'tag', 'data-testid': 'not-verified' }, 'not verified'),
    h('span', { class: 'spacer' }),
    h(
      'button',
      { class: 'secondary', 'data-testid': 'show-safety', onclick: () => void toggleSafety() },
      'Safety number',
    ),
  );
  const composer = document.getElementById('text') as HTMLInputElement | null;
  if (composer) composer.disabled = c.keyWarning !== undefined || c.needsVerification;
  if (c.keyWarning || c.needsVerification) void showSafety();
}

async function toggleSafety(): Promise<void> {
  const box = $('safety');
  if (!box.hidden) {
    box.hidden = true;
    return;
  }
  await showSafety();
}

async function showSafety(): Promise<void> {
  const acc = account;
  const peer = selected;
  const c = peer ? contacts.get(peer) : undefined;
  if (!acc || !peer || !c) return;
  const box = $('safety');
  box.hidden = false;
  if (c.keyWarning) {
    const w = c.keyWarning;
    fill(
      box,
      h(
        'p',
        { class: 'error' },
        `Identity reset: ${peer}'s keys changed since you first talked, and the change is ` +
          'not signed by their old keys. This happens when they lose their keys (a new ' +
          'device without the old ones), or when someone is trying to listen in. Ask them ' +
          'for their fingerprint in person or by a call and type it below.',
      ),
      h('p', {}, `Fingerprint you had: ${groups(w.previousFingerprint)}`),
      h('p', {}, `Fingerprint now published: ${groups(w.currentFingerprint)}`),
      h('p', {}, 'New safety number:'),
      h('code', { class: 'digits', 'data-testid': 'safety-number' }, groups(w.currentSafetyNumber)),
      h(
        'div',
        { class: 'row' },
        h('input', {
          id: 'trust-fingerprint',
          'data-testid': 'trust-fingerprint',
          placeholder: `${peer}'s fingerprint, as they read it to you`,
          autocomplete: 'off',
          inputmode: 'numeric',
        }),
        h(
          'button',
          {
            'data-testid': 'trust-keys',
            onclick: () =>
              void (async () => {
                const typed = $<HTMLInputElement>('trust-fingerprint').value;
                try {
                  await acc.gossip.trustContactKeys(peer, typed);
                } catch (err) {
                  if (!(err instanceof FingerprintMismatchError)) throw err;
                  $('trust-error').textContent =
                    'That is not the fingerprint of the keys published now: nothing was trusted.';
                  return;
                }
                delete c.keyWarning;
                keyWarnings.delete(peer);
                banner('');
                box.hidden = true;
                await refreshContacts();
                await acc.messenger.stop().catch(() => undefined);
                // Restart delivery so held messages from the contact are tried again.
                location.reload();
              })().catch((err: unknown) => banner(describe(err))),
          },
          'It matches: trust the new keys',
        ),
      ),
      h('p', { id: 'trust-error', class: 'error', 'data-testid': 'trust-error' }),
    );
    return;
  }
  const number = await acc.gossip.safetyNumber(peer);
  fill(
    box,
    h(
      'p',
      {},
      `Compare this number with ${peer} (in person or on a call). If it matches on both ` +
        'screens, nobody is in the middle.',
    ),
    h('code', { class: 'digits', 'data-testid': 'safety-number' }, number),
    h(
      'div',
      { class: 'row' },
      c.verified
        ? h('span', { class: 'tag ok' }, '✓ you verified this number')
        : h(
            'button',
            {
              'data-testid': 'mark-verified',
              onclick: () =>
                void (async () => {
                  await acc.gossip.markVerified(peer);
                  banner('');
                  box.hidden = true;
                  await refreshContacts();
                })().catch((err: unknown) => banner(describe(err))),
            },
            'It matches: mark as verified',
          ),
    ),
  );
}

async function renderMessages(): Promise<void> {
  const acc = account;
  const peer = selected;
  const list = document.getElementById('messages');
  if (!acc || !peer || !list) return;
  const lines = await acc.history.list(peer);
  if (peer !== selected) return;
  fill(
    list,
    lines.length
      ? lines.map(line)
      : h('li', { class: 'muted' }, 'No messages yet. They are end-to-end encrypted.'),
  );
  list.scrollTop = list.scrollHeight;
}

function line(l: ChatLine): HTMLElement {
  return h(
    'li',
    {
      class: `msg ${l.direction}`,
      'data-id': l.id,
      'data-direction': l.direction,
      'data-state': l.state,
      'data-testid': 'message',
    },
    h('span', { class: 'text' }, l.text),
    h(
      'span',
      { class: 'meta' },
      time(l.at),
      l.direction === 'out'
        ? h('span', { class: `state ${l.state}`, 'data-testid': 'state' }, STATE_LABEL[l.state])
        : null,
    ),
  );
}

// ---------------------------------------------------------------- typing (ephemeral signals)

let typingSentAt = 0;
let typingHide: ReturnType<typeof setTimeout> | undefined;

/** Tells the contact we are typing, at most every 3 s (never stored, dropped if offline). */
function typed(peer: string): void {
  const now = Date.now();
  if (now - typingSentAt < 3000) return;
  typingSentAt = now;
  account?.messenger.signal(peer, 'typing');
}

function showTyping(from: string, on: boolean): void {
  const el = document.getElementById('typing');
  if (!el || from !== selected) return;
  clearTimeout(typingHide);
  el.textContent = `${from} is typing…`;
  el.hidden = !on;
  if (on) typingHide = setTimeout(() => (el.hidden = true), 5000);
}

async function send(ev: Event): Promise<void> {
  ev.preventDefault();
  const acc = account;
  const peer = selected;
  const input = $<HTMLInputElement>('text');
  const text = input.value;
  if (!acc || !peer || text.trim() === '') return;
  if (contacts.get(peer)?.needsVerification) {
    banner(`You had verified ${peer} and their keys changed: verify the new safety number first.`);
    return;
  }
  if (contacts.get(peer)?.keyWarning) {
    // Encrypting to keys the contact no longer has (or that an attacker swapped in) helps nobody.
    banner(`Compare the new safety number with ${peer} and trust the new keys before writing.`);
    return;
  }
  input.value = '';
  typingSentAt = 0;
  acc.messenger.signal(peer, 'typing-stopped');
  try {
    const { id } = await acc.messenger.send(peer, text);
    await acc.history.add({ id, peer, direction: 'out', text, at: Date.now(), state: 'sending' });
    const early = earlyStatus.get(id);
    if (early) {
      earlyStatus.delete(id);
      await acc.history.setState(peer, id, early);
    }
    await renderMessages();
  } catch (err) {
    input.value = text;
    if (err instanceof KeyChangedError) warnKeyChange(err);
    else banner(`Not sent: ${describe(err)}`);
  }
}

async function applyStatus(peer: string, id: string, state: MessageState): Promise<void> {
  const acc = account;
  if (!acc) return;
  if (!(await acc.history.has(peer, id))) {
    // `send` has not written its line yet (or it is a key message: never shown).
    earlyStatus.set(id, state);
    if (earlyStatus.size > 500) earlyStatus.delete(earlyStatus.keys().next().value as string);
    return;
  }
  if ((await acc.history.setState(peer, id, state)) && peer === selected) await renderMessages();
}

// ---------------------------------------------------------------- wiring

$('auth-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void authenticate('login');
});
$('register').addEventListener('click', () => void authenticate('register'));
$('logout').addEventListener('click', () => void leave(true));
$('banner').addEventListener('click', () => banner(''));
$('add-form').addEventListener('submit', (ev) => void requestContact(ev));
void boot();
