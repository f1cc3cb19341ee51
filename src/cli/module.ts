import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import type { Config } from '../config/config.js';
import type { AcceptDeps } from '../gate/accept.js';
import type { JobHandlerDefinition } from '../jobs/types.js';
import type { Logger } from '../lib/logger.js';

/** What a provider-backed domain (outbound calls, broadcasts) gets from the composition root. */
export interface ModuleDeps {
  pool: pg.Pool;
  databaseUrl: string;
  config: Config;
  log: Logger;
  accept: AcceptDeps;
  /**
   * Where providers reach our webhooks. A function: in tests and `npm start` the API may listen
   * on a port chosen at start, after the module is created.
   */
  publicBaseUrl(): string;
}

export interface ModuleRoles {
  /** This process serves HTTP (routes, webhooks). */
  api: boolean;
  /** This process runs jobs (handlers, background pumps and sweepers). */
  worker: boolean;
}

/**
 * A domain that owns job handlers, tenant routes, signed provider webhooks and background parts
 * (simulators, pumps, sweepers). The composition root (cli/runtime.ts, the test harness) creates
 * each once per process and starts it with the roles that process plays.
 */
export interface DomainModule {
  name: string;
  handlers: JobHandlerDefinition[];
  /** Tenant routes under /api/v1, behind bearer auth. */
  routes?: FastifyPluginAsyncZod;
  /** Provider webhooks under /webhooks: no bearer, verified by signature. */
  webhooks?: FastifyPluginAsyncZod;
  start(roles: ModuleRoles): Promise<void>;
  /** Idempotent. */
  stop(): Promise<void>;
}
