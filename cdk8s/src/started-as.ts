/** Whether a module was started as a command, for the CLIs of this package. */
import { pathToFileURL } from 'node:url';

/**
 * True when the module at `moduleUrl` (its `import.meta.url`) is the file node was started
 * with and that file is called `basename` (any of .ts/.js/.mts/.mjs/.cts/.cjs). The name
 * matters: inside a bundle (the operator image) every module's import.meta.url is the
 * bundle's, which is also argv[1], so comparing those two alone ran a CLI on every operator
 * start.
 */
export function startedAs(moduleUrl: string, basename: string): boolean {
  const started = process.argv[1];
  if (!started || moduleUrl !== pathToFileURL(started).href) return false;
  const file = started.split(/[\\/]/).pop() ?? '';
  return new RegExp(`^${basename.replace(/[.-]/g, '\\$&')}\\.[cm]?[jt]s$`).test(file);
}
