/**
 * Signals (typing, read and the like): relayed to the recipient's gateways when the pair
 * may message and the recipient is online; never stored.
 */
import type { BusSignal } from '@gossip/protocol';
import type { EngineMetrics } from './metrics.js';
import type { Outbound, PushFrame } from './outbound.js';
import type { Permissions } from './permissions.js';

export class Signals {
  constructor(
    private readonly permissions: Permissions,
    private readonly out: Outbound,
    private readonly metrics: EngineMetrics,
  ) {}

  async onSignal(m: BusSignal): Promise<void> {
    const decision = await this.permissions.check(m.from, m.to);
    if (decision !== 'ok') {
      this.metrics.signals.inc({ result: 'refused' });
      return this.out.replyError(m, decision === 'unknown' ? 'unknown_recipient' : decision);
    }
    const gws = await this.out.presence(m.to);
    if (gws.length === 0) {
      this.metrics.signals.inc({ result: 'offline' });
      return this.out.replyError(m, 'recipient_offline');
    }
    const frame: PushFrame = { type: 'signal', from: m.from, signal: m.signal };
    if (m.body !== undefined) frame.body = m.body;
    for (const gw of gws) await this.out.toGateway(gw, { op: 'push', to: m.to, frame });
    this.metrics.signals.inc({ result: 'relayed' });
  }
}
