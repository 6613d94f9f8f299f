/** The browser SDK imports this package: nothing in it may need Node. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

test('no source file imports a Node built-in', () => {
  const dir = join(import.meta.dirname, '..', 'src');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length >= 3, files.join(', '));
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    assert.doesNotMatch(text, /from ['"](node:|fs|path|os|crypto|net|http)['"/]/, f);
  }
});
