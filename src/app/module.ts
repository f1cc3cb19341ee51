import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import type { Config } from '../config/config.js';
import type { AcceptDeps } from '../gate/accept.js';
import type { JobHandlerDefinition } from '../jobs/types.js';
import type { Logger } from '../lib/logger.js';

/**
 * The one contract every domain implements (leads, receipts, recordings, outbound, broadcasts,
 * and the ones to come). The composition root (src/app/process.ts) creates each module once per
 * process, registers its jobs with the engine and its routes with the HTTP app, starts it with the
 * roles the process plays, and only then lets the worker claim and the API listen; it stops
 * modules after both have stopped. Domains import this file for its types only.
 */
export interface DomainModule {
  name: string;
  /** Job types this domain runs (`defineJob`), registered with the engine of every process. */
  jobs?: readonly JobHandlerDefinition[];
  /** Tenant routes under /api/v1, behind bearer auth. */
  routes?: FastifyPluginAsyncZod;
  /** Provider webhooks under /webhooks: no bearer, verified by signature. */
  webhooks?: FastifyPluginAsyncZod;
  /** Pages a provider sends the browser back to (OAuth callbacks), at the root: no bearer, checked by their own state. */
  pages?: FastifyPluginAsyncZod;
  /**
   * Background parts (providers, simulators, sweepers, retention). Called before the process
   * claims a job or accepts a request, so handlers and routes may rely on what it starts.
   */
  start?(roles: ModuleRoles): Promise<void>;
  /** Idempotent, bounded by timeoutMs. */
  stop?(opts?: { timeoutMs?: number }): Promise<void>;
}

/** What a domain module gets from the composition root. */
export interface ModuleDeps {
  pool: pg.Pool;
  databaseUrl: string;
  config: Config;
  log: Logger;
  accept: AcceptDeps;
  /**
   * Where providers reach our webhooks. A function: in tests the API listens on a port chosen at
   * start, after the modules are created.
   */
  publicBaseUrl(): string;
}

export interface ModuleRoles {
  /** This process serves HTTP (routes, webhooks). */
  api: boolean;
  /** This process runs jobs (handlers, background pumps and sweepers). */
  worker: boolean;
}
