/**
 * The web client's state and the few things every view uses: the signed-in account, the
 * contact list as shown, the open chat, the banner, and the events through which one
 * view asks another to act (so views import each other in one direction only).
 */
import {
  ApiError,
  type ApiClient,
  type GossipClient,
  type KeyChangedError,
  type Messenger,
} from '@gossip/client';
import type { Contact } from '@gossip/protocol';
import { LRUCache } from '@gossip/limits';
import { $ } from './dom.js';
import type { History, MessageState } from './stores.js';

export interface Account {
  username: string;
  api: ApiClient;
  gossip: GossipClient;
  messenger: Messenger;
  history: History;
}

export interface ContactView extends Contact {
  verified: boolean;
  /** Was verified, then their keys changed: nothing is sent until verified again. */
  needsVerification: boolean;
  keyWarning?: KeyChangedError;
  unread: number;
}

/** What the page shows now. */
export const app: {
  account: Account | undefined;
  contacts: Map<string, ContactView>;
  selected: string | undefined;
} = { account: undefined, contacts: new Map(), selected: undefined };

/** Contacts whose keys changed and are not trusted again yet (kept across list refreshes). */
export const keyWarnings = new Map<string, KeyChangedError>();
/** Status events that arrived before their history line was written (the newest 500). */
export const earlyStatus = new LRUCache<string, MessageState>({ max: 500 });

interface AppEvents {
  /** The contact list changed (undefined), or one contact's keys: its chat header is stale. */
  'contacts-changed': string | undefined;
  /** The user picked a contact to chat with. */
  select: string;
}

const bus = new EventTarget();

/** Tells the views that `event` happened. */
export function emitApp<K extends keyof AppEvents>(event: K, detail: AppEvents[K]): void {
  bus.dispatchEvent(new CustomEvent(event, { detail }));
}

/** Runs `listener` on each `event`. */
export function onApp<K extends keyof AppEvents>(
  event: K,
  listener: (detail: AppEvents[K]) => void,
): void {
  bus.addEventListener(event, (ev) => listener((ev as CustomEvent<AppEvents[K]>).detail));
}

/** Shows a message at the top of the page until it is clicked or replaced. */
export function banner(text: string, kind: 'error' | 'info' = 'error'): void {
  const b = $('banner');
  b.title = 'click to dismiss';
  b.textContent = text;
  b.dataset.kind = kind;
  b.hidden = text === '';
}

export function describe(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
