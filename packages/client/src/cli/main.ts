/**
 * `gossip`: the command-line client. The first thing a new user runs:
 *
 *     gossip register --server http://127.0.0.1:8080 --user alice
 *     gossip login    --server http://127.0.0.1:8080 --user alice
 *     gossip whoami
 *     gossip fingerprint bob
 *
 * Exit codes: 0 done, 1 failed, 2 bad usage, 3 a contact's keys changed.
 */
import { parseArgs } from 'node:util';
import { ApiClient } from '../api.js';
import {
  ApiError,
  KeyChangedError,
  MissingKeyError,
  NetworkError,
  NotLoggedInError,
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
import { readPassword } from './password.js';
import {
  chatCommand,
  defaultGateway,
  listenCommand,
  normaliseGateway,
  sendCommand,
  type ChatContext,
} from './chat.js';

const USAGE = `usage: gossip <command> [options]

commands:
  register --server URL --user NAME [--display-name TEXT]
                           create an account; keys are generated here and kept in
                           $GOSSIP_HOME/<server-host>/<user>/ (default ~/.gossip)
  login --server URL --user NAME
                           log in (the account's keys must be on this machine)
  logout                   revoke this machine's session
  whoami                   show the current account and its key fingerprint
  fingerprint CONTACT      show the safety number to compare with CONTACT
  trust CONTACT            accept CONTACT's new keys after comparing safety numbers
  rotate-keys              publish new keys (contacts will see a key change)
  contacts                 list contacts and requests
  add CONTACT              ask CONTACT to become a contact
  accept CONTACT           accept CONTACT's request (and start the conversation)
  send CONTACT TEXT        send one message; exits once the server accepted it
  listen                   print incoming messages (acking each once printed)
  chat CONTACT             interactive chat: type lines, see replies and ticks
                           (✓ accepted by the server, ✓✓ received by CONTACT)

The password comes from GOSSIP_PASSWORD or is asked for. --server and --user default
to the account last used with register or login. --gateway ws://HOST:PORT/ws (saved at
register/login; default: the server's host, port 8081) is where send, listen and chat
connect.`;

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
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
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
    return {
      client,
      dir: accountDir(env, p),
      gateway: p.gateway ?? defaultGateway(p.server),
      io,
    };
  };
  const open = async (p: Profile): Promise<GossipClient> => {
    const dir = accountDir(env, p);
    const sessions = new FileSessionStore(dir);
    const api = new ApiClient({
      baseUrl: p.server,
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
      io.err('Generating keys (RSA-OAEP 3072 and Ed25519)...');
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
      const pinned = await client.contactKeys(contact); // TOFU; throws on a key change
      io.out(`Safety number with ${pinned.username}:`);
      io.out('');
      io.out(await client.safetyNumber(pinned.username, 4));
      io.out('');
      io.out(
        pinned.verified
          ? 'Marked verified.'
          : 'Compare it with theirs in person or over a trusted channel; if it matches, the server is not reading along.',
      );
      return 0;
    }
    case 'trust': {
      const contact = one('CONTACT');
      const client = await open(await profile());
      const pinned = await client.trustContactKeys(contact, { verified: true });
      io.out(
        `Now trusting ${pinned.username}'s keys (fingerprint ${formatSafetyNumber(pinned.fingerprint)}).`,
      );
      return 0;
    }
    case 'rotate-keys': {
      const client = await open(await profile());
      const res = await client.changeKeys();
      io.out(`Published new keys (key version ${res.keyVersion}).`);
      io.out(`Your fingerprint: ${formatSafetyNumber(await ownFingerprint(client))}`);
      return 0;
    }
    case 'contacts': {
      const client = await open(await profile());
      const { contacts } = await client.api.listContacts();
      if (contacts.length === 0) io.out('No contacts yet: gossip add NAME');
      for (const c of contacts) io.out(`${c.username}  ${c.state}${c.blocked ? ' (blocked)' : ''}`);
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
    io.err(`WARNING: ${err.username}'s keys have changed since you first saw them.`);
    io.err(`  before: ${formatSafetyNumber(err.previousFingerprint)}`);
    io.err(`  now:    ${formatSafetyNumber(err.currentFingerprint)}`);
    io.err('New safety number:');
    io.err(formatSafetyNumber(err.currentSafetyNumber.replace(/\s/g, ''), 4));
    io.err(
      `Compare it with ${err.username} over a trusted channel, then run \`gossip trust ${err.username}\`.`,
    );
    return 3;
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
