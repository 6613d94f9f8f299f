import type { Scenario } from '../scenario.js';

/** Every scenario, in the order `npm run bench` runs them. */
export const scenarios: Scenario[] = [];
