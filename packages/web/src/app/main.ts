/**
 * The Gossip web client: one page, plain DOM. Everything cryptographic happens in
 * `@gossip/client` (WebCrypto): this file only wires the SDK to the page and to
 * IndexedDB. It talks to one origin: `/v1` (the api) and `/ws` (the gateway) are
 * forwarded by the server that serves the page.
 */
import {
  ApiClient,
  ApiError,
  GossipClient,
  KeyChangedError,
  Messenger,
  NotLoggedInError,
  type SessionTokens,
} from '@gossip/client';
import { fingerprint } from '@gossip/crypto';
import { applyStatus, renderMessages, showTyping } from './chat.js';
import { refreshContacts, renderContacts, requestContact, warnKeyChange } from './contacts.js';
import { $, fill, groups, h } from './dom.js';
import { fileLine, receiveFile } from './files.js';
import { app, banner, describe, keyWarnings } from './state.js';
import { History, IdbKeyStore, IdbMessengerStore, loadSession, saveSession } from './stores.js';

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
      const a = m.attachment;
      await history.add({
        id: m.id,
        peer: m.from,
        direction: 'in',
        text: a ? fileLine(a.name, a.size) + (m.text ? ` ${m.text}` : '') : m.text,
        at: m.sentAt,
        state: 'received',
      });
      if (a) {
        if (m.from === app.selected) await renderMessages(); // its progress bar
        await receiveFile({ ...m, attachment: a });
      }
      showTyping(m.from, false);
      const c = app.contacts.get(m.from);
      if (c && m.from !== app.selected) c.unread++;
      renderContacts();
      if (m.from === app.selected) await renderMessages();
    },
  });
  app.account = { username, api, gossip, messenger, history };

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
    } else if (e.kind === 'gap') {
      banner(
        `More messages from ${e.from} went missing than can be caught up: this one and the ` +
          'missing ones cannot be read. The next message starts a new encrypted session.',
      );
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
  const a = app.account;
  app.account = undefined;
  app.selected = undefined;
  app.contacts = new Map();
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
