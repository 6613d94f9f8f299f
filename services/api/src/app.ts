/**
 * `buildApp(config, deps)`: the api as a fastify instance that is not listening yet.
 * The caller owns the MongoDB and Redis connections (main.ts, or a test).
 */
import swagger from '@fastify/swagger';
import { PROTOCOL_VERSION, errorBody } from '@gossip/protocol';
import {
  createLogger,
  type Logger,
  onClientError,
  serverOptions,
  trustFunction,
} from '@gossip/servicekit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import { AttachmentBlobs } from '@gossip/store';
import { AttachmentService } from './attachments.js';
import { AvatarStore } from './avatars.js';
import type { ApiConfig } from './config.js';
import type { AppContext } from './context.js';
import { frameworkErrorHandler, makeErrorHandler } from './errors.js';
import { EventSink } from './events.js';
import { createApiMetrics } from './metrics.js';
import { collectMethods } from './methods.js';
import { HashPool, PasswordHasher, dummyHash } from './passwords.js';
import { RateLimiter } from './ratelimit.js';
import { attachmentRoutes } from './routes/attachments.js';
import { avatarRoutes } from './routes/avatars.js';
import { contactRoutes } from './routes/contacts.js';
import { buildOpsApp } from './ops.js';
import { healthRoutes } from './routes/health.js';
import { mySessionRoutes } from './routes/my-sessions.js';
import { prekeyRoutes } from './routes/prekeys.js';
import { sessionRoutes } from './routes/sessions.js';
import { userRoutes } from './routes/users.js';
import { collections, ensureIndexes } from './store.js';
import { SessionRegistry } from './session-registry.js';
import { TokenService } from './tokens.js';
import { typeboxValidatorCompiler } from './validation.js';

export interface AppDeps {
  db: Db;
  redis: Redis;
  /** Root logger; one is created from the config when absent. */
  logger?: Logger;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
  /** Password hashing; one with the configured pool when absent (tests pass their own). */
  passwords?: PasswordHasher;
}

/** Largest JSON body: keys and key envelopes are the biggest fields (see the limits). */
const JSON_BODY_LIMIT = 32 * 1024;

/** The public api; `ops` is its ops listener (health, metrics, docs), closed with it. */
export type ApiApp = FastifyInstance & { readonly ops: FastifyInstance };

export async function buildApp(config: ApiConfig, deps: AppDeps): Promise<ApiApp> {
  const logger = deps.logger ?? createLogger({ name: 'api', level: config.logLevel });
  const now = deps.now ?? Date.now;
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast only widens its generic parameters.
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: JSON_BODY_LIMIT,
    // Slow clients are cut off with 408 (fastify sets the request timeout on the server
    // itself, after these options); what Node's parser refuses gets a catalog JSON body.
    http: serverOptions(config.http),
    requestTimeout: config.http.requestTimeoutMs,
    clientErrorHandler: onClientError,
    // A path fastify cannot decode (a bad percent-escape) or an oversize parameter.
    frameworkErrors: frameworkErrorHandler,
    // A function, not the setting: fastify would read a hop count as "trust nothing".
    trustProxy: config.trustProxy === 0 ? false : trustFunction(config.trustProxy),
    routerOptions: { ignoreTrailingSlash: true },
  });
  app.setValidatorCompiler(typeboxValidatorCompiler);
  // JSON only (and images where a route opts in): plain text is a 415, not a string body.
  app.removeContentTypeParser('text/plain');
  app.decorateRequest('user', null);
  const methodsOf = collectMethods(app);

  const metrics = createApiMetrics();
  const c = collections(deps.db);
  const ctx: AppContext = {
    config,
    db: deps.db,
    redis: deps.redis,
    c,
    tokens: new TokenService(
      deps.db,
      new SessionRegistry(deps.redis, config.redisPrefix, config.accessTokenTtlSeconds + 60),
      config,
      now,
    ),
    limiter: new RateLimiter(deps.redis, config.redisPrefix, metrics),
    events: new EventSink(c.events, deps.redis, config.redisPrefix, logger, now),
    avatars: new AvatarStore(deps.db),
    attachments: new AttachmentService(
      c,
      new AttachmentBlobs(deps.db),
      config.attachments,
      metrics,
      now,
    ),
    metrics,
    passwords:
      deps.passwords ??
      new PasswordHasher(new HashPool(config.hashConcurrency, config.hashQueue), config.scryptLogN),
    dummyHash: dummyHash(config.scryptLogN),
    now,
  };

  // Indexes only speed queries up, so a database that is down at start-up does not stop
  // the api (/readyz reports it); creation is retried until it succeeds or the app closes.
  let indexTimer: NodeJS.Timeout | undefined;
  const createIndexes = async (): Promise<void> => {
    try {
      await ensureIndexes(deps.db);
    } catch (err) {
      logger.warn({ err }, 'could not create indexes; retrying in 10 s');
      indexTimer = setTimeout(() => void createIndexes(), 10_000);
      indexTimer.unref();
    }
  };
  await createIndexes();
  app.addHook('onClose', async () => clearTimeout(indexTimer));

  app.setErrorHandler(makeErrorHandler(metrics));
  app.setNotFoundHandler((req, reply) => {
    const allow = methodsOf(req.url.split('?', 1)[0] ?? '/');
    if (allow.length > 0 && !allow.includes(req.method)) {
      return reply
        .status(405)
        .header('allow', allow.join(', '))
        .send(errorBody('method_not_allowed'));
    }
    return reply.status(404).send(errorBody('not_found'));
  });

  // A route with a body schema but no body gets `{}`, so "no body" and "empty object"
  // are the same request and required fields are reported as missing, not as a crash.
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && req.routeOptions.schema?.body) req.body = {};
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Gossip api',
        version: `${PROTOCOL_VERSION}`,
        description:
          'Accounts, sessions, key directory, profiles and contacts. See docs/protocol.md.',
      },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
  });

  healthRoutes(app, ctx);
  sessionRoutes(app, ctx);
  userRoutes(app, ctx);
  await avatarRoutes(app, ctx);
  contactRoutes(app, ctx);
  mySessionRoutes(app, ctx);
  prekeyRoutes(app, ctx);
  await attachmentRoutes(app, ctx);

  const ops = buildOpsApp(app, ctx, logger.child({ listener: 'ops' }) as FastifyBaseLogger);
  app.decorate('ops', ops);
  app.addHook('onClose', async () => {
    await ops.close();
  });
  // decorate() sets the property but does not narrow the instance's type.
  return app as unknown as ApiApp;
}
