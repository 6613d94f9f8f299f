/** A tiny typed event emitter (browsers have no `node:events`). */
export class Emitter<Events extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof Events, Set<(payload: never) => void>>();

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  /** Calls every listener; a throwing listener does not stop the others. */
  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    for (const l of [...(this.listeners.get(event) ?? [])]) {
      try {
        (l as (payload: Events[K]) => void)(payload);
      } catch {
        // A listener's bug must not break delivery.
      }
    }
  }

  protected listenerCount(event: keyof Events): number {
    return this.listeners.get(event)?.size ?? 0;
  }
}
