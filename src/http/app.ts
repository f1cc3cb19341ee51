import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type pg from 'pg';
import type { Config } from '../config/config.js';
import type { AcceptDeps } from '../gate/accept.js';
import type { JobEvents } from '../jobs/job-events.js';
import type { Logger } from '../lib/logger.js';
import { tenantAuth } from './auth.js';
import { assertRoleDeclared } from './roles.js';
import { applyBodyLimits, DEFAULT_BODY_LIMIT } from './body-limits.js';
import { registerJsonShapeLimits } from './json-limits.js';
import { registerLocale } from './locale.js';
import { registerRequestBudget } from './request-budget.js';
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandling } from './errors.js';
import type { AppMetrics } from './metrics.js';
import { rejectUnstorableText } from './text-guard.js';
import { adminRoutes } from './routes/admin.routes.js';
import { jobRoutes } from './routes/jobs.routes.js';
import { opsRoutes, requireOpsToken } from './routes/ops.routes.js';
import { noSniff } from './security-headers.js';
import { dashboardRoutes } from '../web/dashboard.routes.js';
import type { DomainModule } from '../app/module.js';

export interface AppDeps {
  pool: pg.Pool;
  config: Pick<Config, 'adminToken' | 'gate' | 'publicBaseUrl' | 'dataDir' | 'http' | 'ops' | 'people' | 'businessDefaults'>;
  log: Logger;
  metrics: AppMetrics;
  jobEvents: JobEvents | null;
  /** Every domain: its tenant routes and signed webhooks. */
  modules: readonly DomainModule[];
  /** Sees every route as it is added, with its schemas (tests check that each one is covered). */
  onRoute?: (route: RouteOptions) => void;
}

export function acceptDeps(pool: pg.Pool, dedupWindowS: number, metrics: AppMetrics): AcceptDeps {
  return { pool, dedupWindowS, onRefuse: (code, operation) => metrics.gateRefusals.inc({ code, operation }) };
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { http } = deps.config;
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // Small by default; the routes that take lists have their own (body-limits.ts).
    bodyLimit: DEFAULT_BODY_LIMIT,
    trustProxy: http.trustProxy,
    // A client gets this long to send its whole request, headers included; a slow or stalled
    // body is answered 408 and its connection closed (Node checks every second, see below).
    requestTimeout: http.requestTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    http: { headersTimeout: http.headersTimeoutMs, connectionsCheckingInterval: 1_000 },
    // Per-request access lines are left to the proxy; our own logs are structured events.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: 200 },
    frameworkErrors: frameworkErrorHandler(deps.config.businessDefaults.locale),
    clientErrorHandler: clientErrorHandler(deps.config.businessDefaults.locale),
  }).withTypeProvider<ZodTypeProvider>();
  app.server.maxConnections = http.maxConnections;
  app.addHook('onRoute', applyBodyLimits);
  if (deps.onRoute) app.addHook('onRoute', deps.onRoute);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('auth', null);
  registerLocale(app, deps.config.businessDefaults.locale);
  // First of the onRequest hooks, so answers refused by the later ones carry it too.
  app.addHook('onRequest', noSniff);
  registerErrorHandling(app);
  registerRequestBudget(app, { perSecond: http.ratePerS, burst: http.rateBurst });
  registerJsonShapeLimits(app);
  await app.register(fastifyCookie);

  // CSV is read as text here only to be refused (400) by routes that take JSON; the import route
  // streams it into the import instead (leads/imports.routes.ts).
  app.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => done(null, body));

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Bulkhead API', version: '1.0.0', description: 'Durable, gated bulk operations for a multi-tenant CRM.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          session: { type: 'apiKey', in: 'cookie', name: 'bh_session', description: 'The dashboard\'s session (POST /auth/login); changes also need X-CSRF-Token = the bh_csrf cookie' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    transform: jsonSchemaTransform,
  });
  const { docsToken } = deps.config.ops;
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    ...(docsToken === null ? {} : { uiHooks: { onRequest: requireOpsToken(docsToken, 'API docs', { basic: true }) } }),
  });

  await app.register(opsRoutes(deps.pool, deps.metrics, deps.config.ops));
  await app.register(dashboardRoutes);
  // The text guard covers the API, not the webhooks: a forged webhook must get its 403 first.
  await app.register(async (admin) => {
    admin.addHook('preValidation', rejectUnstorableText);
    await admin.register(adminRoutes(deps.pool, deps.config.adminToken, deps.config.businessDefaults));
  }, { prefix: '/api/v1/admin' });
  await app.register(async (tenant) => {
    // Every tenant route declares who may call it (roles.ts); one that does not stops the start.
    tenant.addHook('onRoute', assertRoleDeclared);
    tenant.addHook('onRequest', tenantAuth(deps.pool, { sessionIdleMs: deps.config.people.sessionIdleMs }));
    tenant.addHook('preValidation', rejectUnstorableText);
    await tenant.register(jobRoutes(deps.pool, deps.jobEvents));
    for (const m of deps.modules) if (m.routes) await tenant.register(m.routes);
  }, { prefix: '/api/v1' });
  for (const m of deps.modules) if (m.webhooks) await app.register(m.webhooks, { prefix: '/webhooks' });
  for (const m of deps.modules) if (m.pages) await app.register(m.pages);

  return app;
}
