// Runs `npm ci` when node_modules is missing or older than package-lock.json, so
// `npm test` and `npm start` work on a fresh clone. No dependencies of its own.
import { execSync } from 'node:child_process';
import { statSync } from 'node:fs';

const mtime = (f) => {
  try {
    return statSync(f).mtimeMs;
  } catch {
    return undefined;
  }
};

const lock = mtime('package-lock.json');
const installed = mtime('node_modules/.package-lock.json');
if (installed === undefined || (lock !== undefined && lock > installed)) {
  console.error(
    installed === undefined
      ? '[setup] node_modules is missing: running npm ci'
      : '[setup] package-lock.json changed: running npm ci',
  );
  execSync('npm ci --no-audit --no-fund', { stdio: 'inherit' });
}
