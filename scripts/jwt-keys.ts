/**
 * Access-token key sets for rotation (docs/operations.md, "Rotating the access-token signing
 * key"). Reads a private JWK set on stdin (or none) and prints JSON on stdout:
 *
 *   tsx scripts/jwt-keys.ts add <kid>   the set with a new Ed25519 key appended (not signing yet)
 *   tsx scripts/jwt-keys.ts promote <kid>  the set with <kid> moved first (the api signs with it)
 *   tsx scripts/jwt-keys.ts drop <kid>  the set without <kid>
 *   tsx scripts/jwt-keys.ts public      the public half, for the gateways
 */
import { text } from 'node:stream/consumers';
import {
  generateSigningJwk,
  parseSigningKeys,
  publicKeySet,
  type JwkSet,
  type PrivateJwk,
} from '../packages/servicekit/src/jwt.js';

const [cmd, kid] = process.argv.slice(2);
const input = process.stdin.isTTY ? '' : (await text(process.stdin)).trim();
const set: JwkSet<PrivateJwk> = input ? (JSON.parse(input) as JwkSet<PrivateJwk>) : { keys: [] };
const fail = (message: string): never => {
  console.error(message);
  process.exit(2);
};
const has = (k: string | undefined) => set.keys.some((key) => key.kid === k);
let out: JwkSet<unknown>;
switch (cmd) {
  case 'add':
    if (!kid || has(kid)) fail('add <kid>: a kid the set does not hold yet');
    out = { keys: [...set.keys, generateSigningJwk(kid!)] };
    break;
  case 'promote':
    if (!has(kid)) fail('promote <kid>: a kid of the set');
    out = {
      keys: [...set.keys.filter((k) => k.kid === kid), ...set.keys.filter((k) => k.kid !== kid)],
    };
    break;
  case 'drop':
    if (!has(kid)) fail('drop <kid>: a kid of the set');
    out = { keys: set.keys.filter((k) => k.kid !== kid) };
    break;
  case 'public':
    out = publicKeySet(set);
    break;
  default:
    out = fail('usage: jwt-keys.ts add|promote|drop <kid> | public  (private JWK set on stdin)');
}
// Whatever is printed must still load in the api.
if (cmd !== 'public') parseSigningKeys(JSON.stringify(out));
process.stdout.write(`${JSON.stringify(out)}\n`);
