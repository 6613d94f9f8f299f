/**
 * Reads a password without echoing it: from `GOSSIP_PASSWORD` when set (scripts,
 * tests), else from the terminal with echo off, else the first line of stdin.
 */
import { createInterface } from 'node:readline';

export async function readPassword(
  env: NodeJS.ProcessEnv,
  prompt: string,
  opts: { confirm?: boolean } = {},
): Promise<string> {
  if (env.GOSSIP_PASSWORD !== undefined && env.GOSSIP_PASSWORD !== '') return env.GOSSIP_PASSWORD;
  if (!process.stdin.isTTY) return readLine();
  const first = await promptHidden(prompt);
  if (opts.confirm) {
    const again = await promptHidden('Repeat password: ');
    if (again !== first) throw new Error('the passwords do not match');
  }
  return first;
}

async function readLine(): Promise<string> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  throw new Error('no password: set GOSSIP_PASSWORD or type it when asked');
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    let value = '';
    const done = (err?: Error): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
