/**
 * The api's ops listener, apart from the public port: `/healthz`, `/readyz` (also on the
 * public port, for load balancers), `/metrics` and, when `API_DOCS` allows, the OpenAPI UI and
 * document at `/docs`. Kubernetes probes and Prometheus use this port; the NetworkPolicies
 * let only monitoring reach it, and an Ingress never routes to it.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { errorBody } from '@gossip/protocol';
import { onClientError, serverOptions } from '@gossip/servicekit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AppContext } from './context.js';
import { frameworkErrorHandler, makeErrorHandler } from './errors.js';
import { healthRoutes } from './routes/health.js';

/**
 * Builds the ops app (not listening). `publicApp` is the api whose routes `/docs` describes;
 * its OpenAPI document is read once it is ready, when the ops app starts (so decorate and
 * extend the public app before starting the ops app).
 */
export function buildOpsApp(
  publicApp: FastifyInstance,
  ctx: AppContext,
  logger: FastifyBaseLogger,
): FastifyInstance {
  const { config } = ctx;
  const ops = Fastify({
    loggerInstance: logger,
    http: serverOptions(config.http),
    requestTimeout: config.http.requestTimeoutMs,
    clientErrorHandler: onClientError,
    frameworkErrors: frameworkErrorHandler,
    routerOptions: { ignoreTrailingSlash: true },
    // The docs plugin waits for the public app to be ready (its routes' schemas make the
    // document): on a loaded machine that took longer than fastify's default 10 s, and
    // the api then failed to start with FST_ERR_PLUGIN_TIMEOUT (seen twice with
    // API_DOCS=true, which `npm start` sets).
    pluginTimeout: 120_000,
  });
  ops.setErrorHandler(makeErrorHandler(ctx.metrics));
  ops.setNotFoundHandler((_req, reply) => reply.status(404).send(errorBody('not_found')));

  healthRoutes(ops, ctx);
  ops.get('/metrics', { logLevel: 'warn' }, async (_req, reply) => {
    return reply
      .header('content-type', ctx.metrics.registry.contentType)
      .send(await ctx.metrics.registry.metrics());
  });

  if (config.docs) {
    // Not awaited: the plugin loads when the ops app starts, after the public app is built.
    void ops.register(async (docs) => {
      // The public app collects its routes' schemas; its document exists once it is ready.
      await publicApp.ready();
      await docs.register(swagger, {
        mode: 'static',
        specification: { document: publicApp.swagger() as never },
      });
      await docs.register(swaggerUi, { routePrefix: '/docs' });
    });
  }
  return ops;
}
