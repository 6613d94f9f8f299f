/** Calling the `MessengerHooks` a harness gave, without letting one change delivery. */
import type { MessengerHooks } from './messenger-types.js';

type HookArgs<K extends keyof MessengerHooks> = Parameters<NonNullable<MessengerHooks[K]>>;

/** Calls hook `name` if it is set; a hook that throws is ignored. */
export function notify<K extends keyof MessengerHooks>(
  hooks: MessengerHooks | undefined,
  name: K,
  ...args: HookArgs<K>
): void {
  const hook = hooks?.[name] as ((...a: HookArgs<K>) => void) | undefined;
  if (!hook) return;
  try {
    hook.apply(hooks, args);
  } catch {
    // A counting hook's bug must not change what is delivered.
  }
}
