/** The shape every benchmark scenario has, and what the runner gives it. */
import type { BackingName, StackServers } from '@gossip/testenv';
import type { Target } from './procstat.js';
import type { ScenarioResult } from './report.js';

export interface BenchContext {
  /** The backing servers' process groups, for CPU measurements. */
  targets(): Record<BackingName, Target>;
  /** For `new ServiceStack(name, servers)`: services against this run's servers. */
  servers: StackServers;
  /** Progress on stderr. */
  say(line: string): void;
  /** BENCH_QUICK=1: smaller sizes, for trying the harness out (figures not for reporting). */
  quick: boolean;
}

export interface Scenario {
  /** File name under bench/results/ and the argument selecting it. */
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<ScenarioResult>;
}
