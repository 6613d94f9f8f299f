/**
 * The safety-number box of the open chat: compare and mark verified, or, after an
 * identity reset, type the fingerprint the contact read out and trust the new keys.
 */
import { FingerprintMismatchError } from '@gossip/client';
import { refreshContacts } from './contacts.js';
import { $, fill, groups, h } from './dom.js';
import { compareScanned, safetyQrCanvas, scanQr } from './qr.js';
import { app, banner, describe, keyWarnings } from './state.js';

/** Stops the camera of a scan in progress, if any. */
let stopScan: (() => void) | undefined;

export async function toggleSafety(): Promise<void> {
  const box = $('safety');
  if (!box.hidden) {
    stopScan?.();
    box.hidden = true;
    return;
  }
  await showSafety();
}

/**
 * **Scan their code**: reads the contact's QR code with the camera and says, visibly,
 * whether it is `number` (the safety number on this screen).
 */
function scanner(peer: string, number: string): HTMLElement {
  const video = h('video', {
    class: 'scan',
    'data-testid': 'scan-video',
    muted: true,
    hidden: true,
  });
  video.playsInline = true;
  const result = h('p', { 'data-testid': 'scan-result', role: 'status' });
  const start = h(
    'button',
    {
      class: 'secondary',
      'data-testid': 'scan-safety',
      onclick: () => {
        stopScan?.();
        result.className = 'muted';
        result.removeAttribute('data-match');
        result.textContent = `Point the camera at the QR code on ${peer}'s screen…`;
        video.hidden = false;
        stopScan = scanQr(
          video,
          (text) => {
            video.hidden = true;
            const r = compareScanned(text, number);
            result.dataset.match = String(r.match);
            result.className = r.match ? 'ok' : 'error';
            result.textContent = r.match
              ? `✓ ${peer}'s code matches this safety number.`
              : r.reason === 'different'
                ? `✗ ${peer}'s code is a different safety number: do not trust these keys. ` +
                  'Someone may be in the middle, or one of you has new keys.'
                : '✗ That is not a Gossip safety number code.';
          },
          (err) => {
            video.hidden = true;
            result.className = 'error';
            result.textContent = `The camera could not be used: ${err instanceof Error ? err.message : String(err)}`;
          },
        );
      },
    },
    'Scan their code',
  );
  return h('div', { class: 'scanner' }, start, video, result);
}

export async function showSafety(): Promise<void> {
  stopScan?.();
  const acc = app.account;
  const peer = app.selected;
  const c = peer ? app.contacts.get(peer) : undefined;
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
      safetyQrCanvas(w.currentSafetyNumber),
      scanner(peer, w.currentSafetyNumber),
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
                stopScan?.();
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
      `Compare this number with ${peer} (in person or on a call): the same 60 digits, and ` +
        'the same QR code, must show on both screens. If they match, nobody is in the middle.',
    ),
    h('code', { class: 'digits', 'data-testid': 'safety-number' }, number),
    safetyQrCanvas(number),
    scanner(peer, number),
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
                  stopScan?.();
                  box.hidden = true;
                  await refreshContacts();
                })().catch((err: unknown) => banner(describe(err))),
            },
            'It matches: mark as verified',
          ),
    ),
  );
}
