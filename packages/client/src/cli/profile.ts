/**
 * Where the CLI keeps things: `$GOSSIP_HOME` (default `~/.gossip`) holds
 * `config.json` (the current server and user) and one folder per account,
 * `<server-host>/<user>/`, with that account's keys and session (0600 files).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readJson, writePrivateJson } from '../node/files.js';

/** The account the CLI acts as. */
export interface Profile {
  server: string;
  user: string;
  /** The gateway WebSocket URL, when one was given with --gateway. */
  gateway?: string;
}

export function gossipHome(env: NodeJS.ProcessEnv): string {
  return env.GOSSIP_HOME && env.GOSSIP_HOME !== '' ? env.GOSSIP_HOME : join(homedir(), '.gossip');
}

/** Checks and normalises a server URL (http or https, no path). */
export function normaliseServer(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new UsageError(`--server must be a URL like http://127.0.0.1:8080, not "${server}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--server must be an http:// or https:// URL, not "${server}"`);
  }
  return url.origin;
}

/** The account folder: `<home>/<host>/<user>` (a port joins the host with `_`). */
export function accountDir(env: NodeJS.ProcessEnv, p: Profile): string {
  const host = new URL(p.server).host.replace(/:/g, '_');
  return join(gossipHome(env), host, p.user);
}

export async function loadCurrent(env: NodeJS.ProcessEnv): Promise<Profile | undefined> {
  return readJson<Profile>(join(gossipHome(env), 'config.json'));
}

export async function saveCurrent(env: NodeJS.ProcessEnv, p: Profile): Promise<void> {
  await writePrivateJson(join(gossipHome(env), 'config.json'), p);
}

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
