/**
 * The gateway autoscaling decision, as a pure function: from each gateway pod's
 * live connection count to the replica count to run. It follows the Kubernetes
 * HPA's algorithm (pkg/controller/podautoscaler) so operators get the behaviour
 * they already know:
 *
 * - desired = ceil(total connections / target per pod), clamped to [min, max];
 * - a usage ratio within the tolerance (10%) of 1 changes nothing;
 * - pods whose count can't be read are "unknown", never zero: when the known pods
 *   ask for a scale-up they count as empty, when they ask for a scale-down they
 *   count as exactly on target, so missing data can only dampen a change; with no
 *   known pod at all nothing changes;
 * - scale-up is bounded per period: at most +100% or +4 pods per 15 s, whichever
 *   is more, counted from the replicas at the start of the period;
 * - scale-down takes the highest recommendation seen over the stabilization
 *   window (300 s by default), so a short dip never removes gateways.
 */

/** One gateway pod's reading: `connections` undefined means it could not be read. */
export interface PodReading {
  name: string;
  connections: number | undefined;
}

/** A recommendation remembered for the stabilization window. */
export interface Recommendation {
  atMs: number;
  replicas: number;
}

/** A scale change the autoscaler made, remembered for the scale-up rate limit. */
export interface ScaleEvent {
  atMs: number;
  from: number;
  to: number;
}

export interface AutoscalePolicy {
  minReplicas: number;
  maxReplicas: number;
  targetConnectionsPerPod: number;
  /** @default 0.1 */
  tolerance?: number;
  /** @default 300 */
  scaleDownStabilizationSeconds?: number;
  /** @default 15 */
  scaleUpPeriodSeconds?: number;
  /** @default 4 */
  scaleUpPods?: number;
  /** @default 100 */
  scaleUpPercent?: number;
}

export interface AutoscaleInput {
  nowMs: number;
  currentReplicas: number;
  pods: PodReading[];
  policy: AutoscalePolicy;
  /** Earlier recommendations; entries older than the window are ignored. */
  history: Recommendation[];
  /** Earlier scale events; entries older than the scale-up period are ignored. */
  events: ScaleEvent[];
}

export type ScaleReason =
  | 'NoMetrics'
  | 'WithinTolerance'
  | 'ScaleUp'
  | 'ScaleUpLimited'
  | 'ScaleDown'
  | 'ScaleDownStabilized'
  | 'BelowMin'
  | 'AboveMax'
  | 'Steady';

export interface AutoscaleDecision {
  /** Replicas to run now. */
  desiredReplicas: number;
  /** What the metrics alone ask for (clamped), before rate limit and stabilization. */
  recommendedReplicas: number;
  /** Sum over the pods whose count is known. */
  totalConnections: number;
  unknownPods: number;
  reason: ScaleReason;
  /** A sentence for events and status. */
  message: string;
  /** The history to keep for the next call (this recommendation added, old ones dropped). */
  history: Recommendation[];
}

const clamp = (n: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, n));

export function recommend(input: AutoscaleInput): AutoscaleDecision {
  const { policy, nowMs, currentReplicas } = input;
  const tolerance = policy.tolerance ?? 0.1;
  const windowMs = (policy.scaleDownStabilizationSeconds ?? 300) * 1000;
  const periodMs = (policy.scaleUpPeriodSeconds ?? 15) * 1000;
  if (policy.targetConnectionsPerPod <= 0) throw new Error('targetConnectionsPerPod must be > 0');
  if (policy.minReplicas > policy.maxReplicas) {
    throw new Error(
      `minReplicas (${policy.minReplicas}) must be <= maxReplicas (${policy.maxReplicas})`,
    );
  }

  const known = input.pods.filter(
    (p): p is { name: string; connections: number } => p.connections !== undefined,
  );
  const unknownPods = input.pods.length - known.length;
  const total = known.reduce((s, p) => s + p.connections, 0);
  const history = input.history.filter((h) => nowMs - h.atMs < windowMs);
  const finish = (
    recommended: number,
    desired: number,
    reason: ScaleReason,
    message: string,
  ): AutoscaleDecision => ({
    desiredReplicas: desired,
    recommendedReplicas: recommended,
    totalConnections: total,
    unknownPods,
    reason,
    message,
    history: [...history, { atMs: nowMs, replicas: recommended }],
  });

  // Out of bounds (the spec changed): fix that first, whatever the metrics say.
  if (currentReplicas < policy.minReplicas) {
    return finish(
      policy.minReplicas,
      policy.minReplicas,
      'BelowMin',
      `raised to minReplicas ${policy.minReplicas}`,
    );
  }
  if (currentReplicas > policy.maxReplicas) {
    return finish(
      policy.maxReplicas,
      policy.maxReplicas,
      'AboveMax',
      `lowered to maxReplicas ${policy.maxReplicas}`,
    );
  }
  if (known.length === 0) {
    return {
      desiredReplicas: currentReplicas,
      recommendedReplicas: currentReplicas,
      totalConnections: 0,
      unknownPods,
      reason: 'NoMetrics',
      message: `no gateway connection count could be read (${unknownPods} unknown): not scaling`,
      history,
    };
  }

  const target = policy.targetConnectionsPerPod;
  const ratio = total / (known.length * target);
  let recommended: number;
  if (Math.abs(ratio - 1) <= tolerance) {
    recommended = currentReplicas;
  } else {
    // Unknown pods only ever dampen: empty when scaling up, on target when scaling down.
    const assumed = ratio > 1 ? total : total + unknownPods * target;
    const dampenedRatio = assumed / (input.pods.length * target);
    if (
      unknownPods > 0 &&
      (Math.abs(dampenedRatio - 1) <= tolerance || dampenedRatio > 1 !== ratio > 1)
    ) {
      recommended = currentReplicas;
    } else {
      recommended = Math.ceil(assumed / target);
    }
  }
  recommended = clamp(recommended, policy.minReplicas, policy.maxReplicas);

  if (recommended > currentReplicas) {
    const recentUps = input.events.filter((e) => nowMs - e.atMs < periodMs && e.to > e.from);
    const added = recentUps.reduce((s, e) => s + (e.to - e.from), 0);
    const base = Math.max(1, currentReplicas - added);
    const limit = Math.max(
      base + (policy.scaleUpPods ?? 4),
      Math.ceil(base * (1 + (policy.scaleUpPercent ?? 100) / 100)),
    );
    const desired = Math.max(currentReplicas, Math.min(recommended, limit));
    return desired < recommended
      ? finish(
          recommended,
          desired,
          'ScaleUpLimited',
          `scale-up to ${recommended} limited to ${desired} this period (${total} connections)`,
        )
      : finish(
          recommended,
          desired,
          'ScaleUp',
          `${total} connections need ${recommended} gateways at ${target} per pod`,
        );
  }

  // Scale-down (or steady): the highest recommendation over the window wins.
  const stabilized = Math.max(recommended, ...history.map((h) => h.replicas));
  const desired = clamp(
    Math.min(currentReplicas, stabilized),
    policy.minReplicas,
    policy.maxReplicas,
  );
  if (desired < currentReplicas) {
    return finish(
      recommended,
      desired,
      'ScaleDown',
      `${total} connections need ${desired} gateways at ${target} per pod`,
    );
  }
  if (recommended < currentReplicas) {
    return finish(
      recommended,
      desired,
      'ScaleDownStabilized',
      `scale-down to ${recommended} held at ${desired}: a higher recommendation within the last ${windowMs / 1000} s`,
    );
  }
  if (Math.abs(ratio - 1) <= tolerance) {
    return finish(
      recommended,
      desired,
      'WithinTolerance',
      `${total} connections within ${tolerance * 100}% of target`,
    );
  }
  return finish(recommended, desired, 'Steady', `${total} connections, ${desired} gateways`);
}
