/**
 * Where a `GatewayConnection` gets its access token: any `TokenSource`, or by default the
 * `ApiClient`'s session through `apiTokenSource`.
 */
import type { ApiClient } from '../api.js';
import { NotLoggedInError } from '../errors.js';

/** Where the connection gets its access token. */
export interface TokenSource {
  /** The access token to connect with; `refresh` is true after the gateway refused one. */
  accessToken(refresh: boolean): Promise<string>;
  /**
   * A single-use WebSocket ticket, for factories that connect with one (browsers); called
   * after `accessToken`, so the session is fresh.
   */
  wsTicket?(): Promise<string>;
}

/**
 * Tokens from an `ApiClient` session: the current access token, refreshed (single-flight,
 * through the api) when it is about to expire or the gateway refused it.
 */
export function apiTokenSource(api: ApiClient, skewMs = 30_000): TokenSource {
  return {
    async accessToken(refresh) {
      const s = api.currentSession;
      if (!s) throw new NotLoggedInError();
      if (refresh || s.accessExpiresAt - Date.now() < skewMs)
        return (await api.refresh()).accessToken;
      return s.accessToken;
    },
    async wsTicket() {
      return (await api.wsTicket()).ticket;
    },
  };
}
