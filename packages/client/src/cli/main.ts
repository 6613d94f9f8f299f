/**
 * `gossip`: the command-line client. The first thing a new user runs:
 *
 *     gossip register --server http://127.0.0.1:8080 --user alice
 *     gossip login    --server http://127.0.0.1:8080 --user alice
 *     gossip whoami
 *     gossip fingerprint bob
 *
 * Exit codes: 0 done, 1 failed, 2 bad usage, 3 a contact's identity was reset (keys
 * changed without a proof signed by their previous key) or must be verified again.
 */
import { parseArgs } from 'node:util';
import { ApiClient } from '../api.js';
import {
  ApiError,
  FingerprintMismatchError,
  InsecureTransportError,
  KeyChangedError,
  MissingKeyError,
  NetworkError,
  NotLoggedInError,
  VerificationRequiredError,
} from '../errors.js';
import { GossipClient } from '../gossip.js';
import { FileKeyStore } from '../node/file-keystore.js';
import { FileSessionStore } from '../node/session-store.js';
import { CryptoError, fingerprint, formatSafetyNumber } from '@gossip/crypto';
import {
  accountDir,
  loadCurrent,
  normaliseServer,
  saveCurrent,
  UsageError,
  type Profile,
} from './profile.js';
import { sendFileCommand } from './files.js';
import { readPassword } from './password.js';
import { checkTransportUrl } from '../transport-security.js';
import {
  chatCommand,
  defaultGateway,
  listenCommand,
  messenger,
  normaliseGateway,
  sendCommand,
  type ChatContext,
} from './chat.js';

import { USAGE } from './usage.js';

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: Io = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

/** Runs the CLI; returns the exit code. */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv,
  io: Io = defaultIo,
): Promise<number> {
  try {
    return await run(argv, env, io);
  } catch (err) {
    return report(err, io);
  }
}

async function run(argv: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      server: { type: 'string' },
      user: { type: 'string' },
      'display-name': { type: 'string' },
      gateway: { type: 'string' },
      files: { type: 'string' },
      insecure: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  const allowInsecure = values.insecure === true;
  if (values.help || command === undefined || command === 'help') {
    io.out(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }

  const profile = async (): Promise<Profile> => {
    const current = await loadCurrent(env);
    const server = values.server ?? current?.server;
    const user = values.user ?? current?.user;
    if (!server || !user) {
      throw new UsageError(
        'no account selected: pass --server URL --user NAME (or register/login first)',
      );
    }
    const p: Profile = { server: normaliseServer(server), user };
    const gateway =
      values.gateway ??
      (current?.server === p.server && current.user === user ? current.gateway : undefined);
    if (gateway) p.gateway = normaliseGateway(gateway);
    return p;
  };
  const chatContext = async (): Promise<ChatContext> => {
    const p = await profile();
    const client = await open(p);
    if (!client.api.currentSession) throw new NotLoggedInError();
    const gateway = p.gateway ?? defaultGateway(p.server);
    checkTransportUrl(gateway, allowInsecure);
    const filesDir = values.files ?? (env.GOSSIP_FILES || undefined);
    return { client, dir: accountDir(env, p), gateway, io, ...(filesDir && { filesDir }) };
  };
  const open = async (p: Profile): Promise<GossipClient> => {
    const dir = accountDir(env, p);
    const sessions = new FileSessionStore(dir);
    const api = new ApiClient({
      baseUrl: p.server,
      allowInsecure,
      session: await sessions.load(),
      onSession: (s) => sessions.save(s),
    });
    return new GossipClient({ api, keyStore: new FileKeyStore(dir), username: p.user });
  };
  const one = (what: string): string => {
    if (rest.length !== 1 || !rest[0]) throw new UsageError(`${command} needs exactly one ${what}`);
    return rest[0];
  };

  switch (command) {
    case 'register': {
      if (!values.server || !values.user)
        throw new UsageError('register needs --server URL and --user NAME');
      const p = await profile();
      const client = await open(p);
      if (await client.keyStore.getIdentity()) {
        throw new Error(`${accountDir(env, p)} already holds keys for ${p.user}; use gossip login`);
      }
      const password = await readPassword(env, `Password for new user ${p.user}: `, {
        confirm: true,
      });
      io.err('Generating keys (RSA-OAEP 3072, Ed25519 and X25519)...');
      const displayName = values['display-name'];
      await client.register({
        username: p.user,
        password,
        ...(displayName === undefined ? {} : { displayName }),
      });
      await saveCurrent(env, p);
      io.out(`Registered ${p.user} on ${p.server}.`);
      io.out(`Keys saved in ${accountDir(env, p)}`);
      io.out(`Your fingerprint: ${formatSafetyNumber(await ownFingerprint(client))}`);
      warnV2(client, io);
      return 0;
    }
    case 'login': {
      const p = await profile();
      const client = await open(p);
      const password = await readPassword(env, `Password for ${p.user}: `);
      const { hasKeys } = await client.login(p.user, password);
      await saveCurrent(env, p);
      io.out(`Logged in as ${p.user} on ${p.server}.`);
      if (!hasKeys) {
        io.err(
          `warning: this machine has no private keys matching ${p.user}'s published keys, so ` +
            'messages to you cannot be read here. Copy the key folder from the machine you ' +
            'registered on, or run `gossip rotate-keys` to publish new keys (contacts will be warned).',
        );
      } else {
        warnV2(client, io);
      }
      return 0;
    }
    case 'logout': {
      const client = await open(await profile());
      await client.api.logout();
      io.out('Logged out.');
      return 0;
    }
    case 'whoami': {
      const p = await profile();
      const client = await open(p);
      if (!client.api.currentSession) throw new NotLoggedInError();
      const me = await client.api.me();
      io.out(`${me.username} on ${p.server}`);
      if (me.displayName) io.out(`display name: ${me.displayName}`);
      io.out(`key version: ${me.keyVersion}`);
      const prekeys = await client.api.getPrekeyStatus();
      io.out(
        prekeys.published
          ? `v2 keys: published, ${prekeys.oneTimePrekeys} one-time prekeys left`
          : 'v2 keys: not published (messages to you arrive as v1; log in again to publish)',
      );
      try {
        io.out(`fingerprint: ${formatSafetyNumber(await ownFingerprint(client))}`);
      } catch (err) {
        if (!(err instanceof MissingKeyError)) throw err;
        io.out('fingerprint: (no private keys on this machine)');
      }
      return 0;
    }
    case 'fingerprint': {
      const contact = one('CONTACT');
      const client = await open(await profile());
      const pinned = await client.contactKeys(contact); // TOFU; throws on an identity reset
      io.out(`${pinned.username}'s fingerprint: ${formatSafetyNumber(pinned.fingerprint)}`);
      io.out(`Safety number with ${pinned.username}:`);
      io.out('');
      io.out(await client.safetyNumber(pinned.username, 4));
      io.out('');
      io.out(
        pinned.verified
          ? 'Marked verified.'
          : pinned.needsVerification
            ? `Their keys changed since you verified them: compare this number, then \`gossip verify ${pinned.username} NUMBER\`.`
            : `Compare it with theirs in person or over a trusted channel; if it matches, the server is not reading along (\`gossip verify ${pinned.username} NUMBER\`).`,
      );
      return 0;
    }
    case 'trust': {
      const [contact, ...digits] = rest;
      if (!contact || digits.length === 0)
        throw new UsageError('trust needs CONTACT and FINGERPRINT');
      const client = await open(await profile());
      const pinned = await client.trustContactKeys(contact, digits.join(''));
      io.out(
        `Now trusting ${pinned.username}'s keys (fingerprint ${formatSafetyNumber(pinned.fingerprint)}).`,
      );
      io.out(
        pinned.needsVerification
          ? `You had verified ${pinned.username}: nothing is sent to them until you verify again (gossip verify ${pinned.username} NUMBER).`
          : `Not marked verified; compare safety numbers and run \`gossip verify ${pinned.username} NUMBER\`.`,
      );
      return 0;
    }
    case 'verify': {
      const [contact, ...digits] = rest;
      if (!contact || digits.length === 0)
        throw new UsageError('verify needs CONTACT and SAFETY_NUMBER');
      const client = await open(await profile());
      await client.markVerified(contact, digits.join(''));
      io.out(`${contact} is verified.`);
      return 0;
    }
    case 'rotate-keys': {
      const p = await profile();
      const client = await open(p);
      const password = await readPassword(env, `Password for ${p.user}: `);
      const res = await client.changeKeys(password);
      io.out(`Published new keys (key version ${res.keyVersion}).`);
      if (!res.signed) {
        io.err(
          'warning: this machine did not hold your current keys, so the change is not signed ' +
            'by them: your contacts see an IDENTITY RESET and must compare your new fingerprint.',
        );
      }
      io.out(`Your fingerprint: ${formatSafetyNumber(await ownFingerprint(client))}`);
      return 0;
    }
    case 'contacts': {
      const client = await open(await profile());
      const { contacts } = await client.api.listContacts();
      if (contacts.length === 0) io.out('No contacts yet: gossip add NAME');
      for (const c of contacts) {
        const e2e = await encryptionOf(client, c.username);
        io.out(`${c.username}  ${c.state}${c.blocked ? ' (blocked)' : ''}  ${e2e}`);
      }
      return 0;
    }
    case 'add': {
      const contact = one('CONTACT');
      const client = await open(await profile());
      await client.contactKeys(contact); // pin their keys now (trust on first use)
      await client.api.requestContact(contact);
      io.out(
        `Asked ${contact} to be your contact; they run \`gossip accept ${(await profile()).user}\`.`,
      );
      return 0;
    }
    case 'accept': {
      const contact = one('CONTACT');
      const client = await open(await profile());
      await client.acceptContact(contact);
      io.out(`${contact} is now a contact. Compare safety numbers: gossip fingerprint ${contact}`);
      return 0;
    }
    case 'send': {
      if (rest.length < 2 || !rest[0]) throw new UsageError('send needs CONTACT and TEXT');
      const [to, ...words] = rest as [string, ...string[]];
      return sendCommand(await chatContext(), to, words.join(' '));
    }
    case 'send-file': {
      if (rest.length !== 2 || !rest[0] || !rest[1]) {
        throw new UsageError('send-file needs CONTACT and PATH');
      }
      const ctx = await chatContext();
      const m = messenger(ctx);
      try {
        return await sendFileCommand(io, m, rest[0], rest[1]);
      } finally {
        await m.stop();
      }
    }
    case 'listen': {
      if (rest.length !== 0) throw new UsageError('listen takes no arguments');
      return listenCommand(await chatContext());
    }
    case 'chat': {
      return chatCommand(await chatContext(), one('CONTACT'));
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** The `contacts` column: which body format messages to a contact go out in. */
async function encryptionOf(client: GossipClient, peer: string): Promise<string> {
  const s = await client.v2Status(peer);
  if (!s.session) return 'e2e v1';
  return s.pending ? 'e2e v2 (waiting for their first reply)' : 'e2e v2';
}

/** After register/login: say so when the v2 keys could not be published (v1 until then). */
function warnV2(client: GossipClient, io: Io): void {
  const err = client.v2.lastError;
  if (err) {
    io.err(
      `warning: could not publish your v2 keys (${err.message}); messages go out as v1 ` +
        'until the next login publishes them',
    );
  }
}

async function ownFingerprint(client: GossipClient): Promise<string> {
  return fingerprint({ username: client.username, ...(await client.ownPublicKeys()) });
}

/** Turns an error into one clear line (no stack, no secrets) and an exit code. */
function report(err: unknown, io: Io): number {
  if (
    err instanceof UsageError ||
    (err as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')
  ) {
    io.err(`error: ${(err as Error).message}`);
    io.err('run `gossip help` for usage');
    return 2;
  }
  if (err instanceof KeyChangedError) {
    io.err(`WARNING: IDENTITY RESET for ${err.username}.`);
    io.err(
      `${err.username}'s keys changed and the change is NOT signed by the keys you trusted: ` +
        'they lost their keys, or someone is trying to read along.',
    );
    io.err(`  before: ${formatSafetyNumber(err.previousFingerprint)}`);
    io.err(`  now:    ${formatSafetyNumber(err.currentFingerprint)}`);
    io.err('New safety number:');
    io.err(formatSafetyNumber(err.currentSafetyNumber.replace(/\s/g, ''), 4));
    io.err(
      `Compare the new fingerprint with ${err.username} over a trusted channel, then run ` +
        `\`gossip trust ${err.username} <the fingerprint they read to you>\`.`,
    );
    return 3;
  }
  if (err instanceof VerificationRequiredError) {
    io.err(`error: ${err.message}`);
    io.err(
      `run \`gossip fingerprint ${err.username}\`, compare, then \`gossip verify ${err.username} NUMBER\``,
    );
    return 3;
  }
  if (err instanceof FingerprintMismatchError) {
    io.err(`error: ${err.message}`);
    return 1;
  }
  if (err instanceof InsecureTransportError) {
    io.err(`error: ${err.message}`);
    return 1;
  }
  if (err instanceof NetworkError) {
    io.err(`error: ${err.message} (is it running, and is the URL right?)`);
    return 1;
  }
  if (err instanceof NotLoggedInError) {
    io.err(`error: ${err.message}; run \`gossip login\``);
    return 1;
  }
  if (err instanceof ApiError) {
    const msg =
      err.code === 'invalid_credentials'
        ? 'wrong username or password'
        : err.code === 'username_taken'
          ? 'that username is taken'
          : err.code === 'user_not_found'
            ? 'no such user'
            : err.message;
    io.err(`error: ${msg} (${err.code})`);
    return 1;
  }
  if (err instanceof CryptoError || err instanceof MissingKeyError) {
    io.err(`error: ${err.message}`);
    return 1;
  }
  io.err(`error: ${err instanceof Error ? err.message : String(err)}`);
  return 1;
}
