/** The open chat: its header, messages, composer, typing signals and delivery states. */
import { KeyChangedError } from '@gossip/client';
import { renderContacts, warnKeyChange } from './contacts.js';
import { $, fill, h, time } from './dom.js';
import { fileLine, fileView, sendFile } from './files.js';
import { showSafety, toggleSafety } from './safety.js';
import { app, banner, describe, earlyStatus, onApp } from './state.js';
import type { ChatLine, MessageState } from './stores.js';

const STATE_LABEL: Record<MessageState, string> = {
  sending: 'sending…',
  accepted: '✓ accepted',
  delivered: '✓✓ delivered',
  failed: '✗ not sent',
  received: '',
};

onApp('select', (username) => void select(username));
onApp('contacts-changed', (who) => {
  // A CustomEvent's detail is null when it was given undefined: both mean every contact.
  if (app.selected && (who == null || who === app.selected)) renderChatHeader();
});

async function select(username: string): Promise<void> {
  const acc = app.account;
  if (!acc) return;
  app.selected = username;
  const c = app.contacts.get(username);
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
      h(
        'div',
        { id: 'upload', class: 'upload', hidden: true, 'data-testid': 'upload' },
        'Uploading… ',
        h('progress', { max: 1, value: 0, 'data-testid': 'upload-progress' }),
      ),
      h(
        'label',
        { class: 'attach secondary', title: 'Send a file' },
        '📎',
        h('input', {
          id: 'attach',
          type: 'file',
          hidden: true,
          'data-testid': 'attach',
          onchange: (ev: Event) => void attach(username, ev.currentTarget as HTMLInputElement),
        }),
      ),
      h('input', {
        id: 'text',
        oninput: () => typed(username),
        onpaste: (ev: Event) => pasted(username, ev as ClipboardEvent),
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
  const c = app.selected ? app.contacts.get(app.selected) : undefined;
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

export async function renderMessages(): Promise<void> {
  const acc = app.account;
  const peer = app.selected;
  const list = document.getElementById('messages');
  if (!acc || !peer || !list) return;
  const lines = await acc.history.list(peer);
  if (peer !== app.selected) return;
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
    fileView(l.id),
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
  app.account?.messenger.signal(peer, 'typing');
}

export function showTyping(from: string, on: boolean): void {
  const el = document.getElementById('typing');
  if (!el || from !== app.selected) return;
  clearTimeout(typingHide);
  el.textContent = `${from} is typing…`;
  el.hidden = !on;
  if (on) typingHide = setTimeout(() => (el.hidden = true), 5000);
}

async function send(ev: Event): Promise<void> {
  ev.preventDefault();
  const acc = app.account;
  const peer = app.selected;
  const input = $<HTMLInputElement>('text');
  const text = input.value;
  if (!acc || !peer || text.trim() === '') return;
  if (app.contacts.get(peer)?.needsVerification) {
    banner(`You had verified ${peer} and their keys changed: verify the new safety number first.`);
    return;
  }
  if (app.contacts.get(peer)?.keyWarning) {
    // Encrypting to keys the contact no longer has (or that an attacker swapped in) helps nobody.
    banner(`Compare the new safety number with ${peer} and trust the new keys before writing.`);
    return;
  }
  input.value = '';
  typingSentAt = 0;
  acc.messenger.signal(peer, 'typing-stopped');
  try {
    const { id } = await acc.messenger.send(peer, text);
    await showSent(peer, id, text);
  } catch (err) {
    input.value = text;
    if (err instanceof KeyChangedError) warnKeyChange(err);
    else banner(`Not sent: ${describe(err)}`);
  }
}

/** Sends the files chosen with the 📎 button. */
async function attach(peer: string, input: HTMLInputElement): Promise<void> {
  const chosen = [...(input.files ?? [])];
  input.value = '';
  for (const file of chosen) await sendAndShow(peer, file);
}

/** A pasted image (or file) is sent as a file; pasted text stays text. */
function pasted(peer: string, ev: ClipboardEvent): void {
  const pastedFiles = [...(ev.clipboardData?.files ?? [])];
  if (pastedFiles.length === 0) return;
  ev.preventDefault();
  void (async () => {
    for (const file of pastedFiles) await sendAndShow(peer, file);
  })();
}

async function sendAndShow(peer: string, file: File): Promise<void> {
  const id = await sendFile(peer, file);
  if (!id) return;
  await showSent(peer, id, fileLine(file.name || 'pasted', file.size));
}

/** Adds an outgoing line (with a status that came before it) and shows it. */
async function showSent(peer: string, id: string, text: string): Promise<void> {
  const acc = app.account;
  if (!acc) return;
  await acc.history.add({ id, peer, direction: 'out', text, at: Date.now(), state: 'sending' });
  const early = earlyStatus.get(id);
  if (early) {
    earlyStatus.delete(id);
    await acc.history.setState(peer, id, early);
  }
  await renderMessages();
}

export async function applyStatus(peer: string, id: string, state: MessageState): Promise<void> {
  const acc = app.account;
  if (!acc) return;
  if (!(await acc.history.has(peer, id))) {
    // `send` has not written its line yet (or it is a key message: never shown).
    earlyStatus.set(id, state);
    return;
  }
  if ((await acc.history.setState(peer, id, state)) && peer === app.selected)
    await renderMessages();
}
