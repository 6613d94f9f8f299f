// Vite builds the single page from index.html into dist/. The SDK, protocol and crypto
// workspaces are bundled from their TypeScript sources.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  resolve: {
    // TypeBox's compiler uses `new Function`; this stand-in does not, so the page's
    // content security policy can forbid eval.
    alias: [
      {
        find: /^@sinclair\/typebox\/compiler$/,
        replacement: fileURLToPath(new URL('./src/app/typebox-check.ts', import.meta.url)),
      },
    ],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    port: 5173,
    proxy: {
      '/v1': 'http://127.0.0.1:8080',
      '/ws': { target: 'ws://127.0.0.1:8081', ws: true },
    },
  },
});
