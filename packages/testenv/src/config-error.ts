import { ConfigError } from '@gossip/servicekit';

/**
 * An `assert.throws` predicate: the error is servicekit's ConfigError naming `variable`
 * (a service's loadConfig refusing one environment variable).
 */
export function configErrorFor(variable: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof ConfigError && e.variable === variable;
}
