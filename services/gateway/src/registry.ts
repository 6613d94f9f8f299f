/**
 * The connections this gateway holds, by id and by user. A user's entry is the connection
 * itself when there is one (the usual case), a set only when there are several.
 */
import type { Connection } from './connection.js';

export class ConnectionRegistry {
  private readonly byId = new Map<string, Connection>();
  private readonly byUser = new Map<string, Connection | Set<Connection>>();

  /** Open connections. */
  get size(): number {
    return this.byId.size;
  }

  /** Adds an accepted connection (its `id` and `user` set). */
  add(conn: Connection): void {
    this.byId.set(conn.id, conn);
    const had = this.byUser.get(conn.user);
    if (had === undefined) this.byUser.set(conn.user, conn);
    else if (had instanceof Set) had.add(conn);
    else this.byUser.set(conn.user, new Set([had, conn]));
  }

  /**
   * Removes a connection. Returns undefined when it was not here (closed twice), else
   * whether it was its user's last one on this gateway.
   */
  remove(conn: Connection): { last: boolean } | undefined {
    if (!this.byId.delete(conn.id)) return undefined;
    const had = this.byUser.get(conn.user);
    let last = had === conn;
    if (had instanceof Set) {
      had.delete(conn);
      if (had.size === 1) this.byUser.set(conn.user, had.values().next().value as Connection);
      last = had.size === 0;
    }
    if (last) this.byUser.delete(conn.user);
    return { last };
  }

  /** The connection with this id, if it is still open here. */
  get(id: string): Connection | undefined {
    return this.byId.get(id);
  }

  /** Whether this very connection is still registered. */
  has(conn: Connection): boolean {
    return this.byId.get(conn.id) === conn;
  }

  /** Every open connection. */
  all(): IterableIterator<Connection> {
    return this.byId.values();
  }

  /** The users with a connection here. */
  users(): string[] {
    return [...this.byUser.keys()];
  }

  /** How many connections `user` holds on this gateway. */
  countOf(user: string): number {
    const c = this.byUser.get(user);
    return c === undefined ? 0 : c instanceof Set ? c.size : 1;
  }

  /** A user's connections on this gateway. */
  connsOf(user: string): Iterable<Connection> {
    const c = this.byUser.get(user);
    return c === undefined ? [] : c instanceof Set ? c : [c];
  }
}
