/**
 * Which methods each path takes, from the routes as they are registered, so a request
 * with a method its path does not have is a 405 with `Allow` instead of a 404.
 */
import type { FastifyInstance } from 'fastify';

interface Entry {
  pattern: RegExp;
  methods: Set<string>;
}

/** Starts collecting `app`'s routes; call before any route is added. */
export function collectMethods(app: FastifyInstance): (path: string) => string[] {
  const entries = new Map<string, Entry>();
  app.addHook('onRoute', (route) => {
    // `/v1/users/:username/keys` matches one segment per parameter; `*` the rest.
    const source = route.url
      .split('/')
      .map((part) =>
        part.startsWith(':')
          ? '[^/]+'
          : part === '*'
            ? '.*'
            : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('/');
    const entry = entries.get(route.url) ?? {
      pattern: new RegExp(`^${source}/?$`),
      methods: new Set<string>(),
    };
    for (const m of Array.isArray(route.method) ? route.method : [route.method]) {
      entry.methods.add(m);
    }
    entries.set(route.url, entry);
  });
  return (path) => {
    const allowed = new Set<string>();
    for (const { pattern, methods } of entries.values()) {
      if (pattern.test(path)) for (const m of methods) allowed.add(m);
    }
    return [...allowed].sort();
  };
}
