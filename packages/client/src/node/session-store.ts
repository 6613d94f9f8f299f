/**
 * Keeps a session (access and refresh token) in `session.json` (0600) beside the keys,
 * so CLI commands can run one after another without logging in each time, the way
 * `gh` or `kubectl` keep credentials. `logout` deletes it.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SessionTokens } from '../api.js';
import { readJson, writePrivateJson } from './files.js';

export class FileSessionStore {
  constructor(readonly dir: string) {}

  private get file(): string {
    return join(this.dir, 'session.json');
  }

  async load(): Promise<SessionTokens | null> {
    return (await readJson<SessionTokens>(this.file)) ?? null;
  }

  async save(session: SessionTokens | null): Promise<void> {
    if (session) await writePrivateJson(this.file, session);
    else await rm(this.file, { force: true });
  }
}
