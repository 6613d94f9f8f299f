/** The chaos run's per-fault table, in markdown. */
import type { ChaosResult } from './types.js';

/** The per-fault table (markdown). */
export function chaosTable(r: ChaosResult): string {
  const ms = (v: number | null): string => (v === null ? '–' : `${(v / 1000).toFixed(1)} s`);
  const header = [
    'fault',
    'sent',
    'accepted',
    'shown',
    'dup wire',
    'dup dropped',
    'dup shown',
    'lost',
    'unaccepted',
    'down',
    'recovery',
    'longest stall',
    'settled',
    'login while down',
  ];
  const line = (cells: readonly unknown[]): string => `| ${cells.map(String).join(' | ')} |`;
  const rows = r.phases.map((p) =>
    line([
      p.round > 0 ? `${p.fault} #${p.round}` : p.fault,
      p.sent,
      p.accepted,
      p.shown,
      p.dupWire,
      p.dupDropped,
      p.dupShown,
      p.lost,
      p.unaccepted,
      ms(p.outageMs),
      ms(p.recoveryMs),
      ms(p.stallMs),
      p.settled ? 'yes' : 'no',
      p.loginWhileDown ?? '–',
    ]),
  );
  const t = r.total;
  rows.push(
    line([
      '**total**',
      t.sent,
      t.accepted,
      t.shown,
      t.dupWire,
      t.dupDropped,
      t.dupShown,
      t.lost,
      t.unaccepted,
      '',
      '',
      '',
      r.settled ? 'yes' : 'no',
      '',
    ]),
  );
  return [line(header), line(header.map(() => '---')), ...rows].join('\n');
}
