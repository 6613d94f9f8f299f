/**
 * Test support: one module of the web client bundled on its own by Vite, with the web
 * client's own vite.config.ts (its aliases and target, minified as for the page), served by
 * the web server and loaded into a page of Debian's Chromium. No Gossip server is
 * involved.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { build } from 'vite';
import type { Browser, Page } from 'playwright-core';
import { webRoot } from '../../src/build.js';
import { startWebServer, type WebServer } from '../../src/server.js';
import { launchChromium } from './stack.js';

export interface ModulePage {
  browser: Browser;
  page: Page;
  /** The web server's base URL; the module is at `/<name>.js`, a blank page at `/index.html`. */
  url: string;
  /**
   * Runs `body` (JavaScript, with `m` the module) in `page`, `arg` given as `arg`. A
   * string, not a function: tsx would wrap a function's inner arrows in a `__name` helper
   * the page does not have.
   */
  run<T>(body: string, arg?: unknown, page?: Page): Promise<T>;
  close(): Promise<void>;
}

/**
 * Bundles `entry` (a path under packages/web) as `/<name>.js` and opens a page on it.
 * @param name the module's file name without `.js`; default the entry's base name
 */
export async function openModulePage(
  entry: string,
  name = basename(entry, '.ts'),
): Promise<ModulePage> {
  const dir = mkdtempSync(join(tmpdir(), `gossip-web-${name}-`));
  let web: WebServer | undefined;
  let browser: Browser | undefined;
  try {
    await build({
      configFile: join(webRoot, 'vite.config.ts'),
      root: webRoot,
      logLevel: 'warn',
      build: {
        outDir: dir,
        emptyOutDir: true,
        sourcemap: false,
        lib: { entry: join(webRoot, entry), formats: ['es'], fileName: name },
      },
    });
    writeFileSync(join(dir, 'index.html'), `<!doctype html><title>${name}</title>`);
    web = await startWebServer({
      root: dir,
      apiUrl: 'http://127.0.0.1:1',
      gatewayUrl: 'http://127.0.0.1:1',
      port: 0,
    });
    browser = await launchChromium();
    // A context of its own, so a test can open a second tab on the same origin in it.
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(120_000);
    await page.goto(web.url + '/index.html');
    const url = web.url;
    const opened = { web, browser };
    return {
      browser,
      page,
      url,
      run: async <T>(body: string, arg?: unknown, on: Page = page): Promise<T> =>
        (await on.evaluate(
          `(async (arg) => { const m = await import('/${name}.js'); ${body} })(${JSON.stringify(arg ?? null)})`,
        )) as T,
      close: async () => {
        await opened.browser.close();
        await opened.web.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await browser?.close();
    await web?.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
