#!/usr/bin/env node
import { Command } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { createAppMetrics } from '../http/metrics.js';
import { ensureDemo } from './demo.js';
import { createProcessModules, openDatabase, startApi, startModules, startWorker, type Database } from './runtime.js';

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failure: 1, usage: 2, config: 3, unavailable: 4 } as const;

function load(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(EXIT.config);
    }
    throw err;
  }
}

/** Stops everything once on SIGINT/SIGTERM (a second signal exits at once). */
function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(EXIT.failure);
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop()
      .then(() => process.exit(EXIT.ok))
      .catch((err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(EXIT.failure);
      });
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

async function open(config: Config, log: Logger): Promise<Database> {
  try {
    return await openDatabase(config, log);
  } catch (err) {
    log.fatal({ err }, 'cannot open the database');
    console.error(`Cannot open the database: ${(err as Error).message}`);
    process.exit(EXIT.unavailable);
  }
}

const program = new Command()
  .name('bulkhead')
  .description('Durable, gated bulk operations on PostgreSQL: API, worker, and job tools.')
  .showHelpAfterError();

program
  .command('start')
  .description('Everything in one process: API, worker and dashboard on the embedded PostgreSQL (unless DATABASE_URL is set), with demo data.')
  .action(async () => {
    const started = Date.now();
    const config = load({ DEMO: '1', ...process.env });
    const log = createLogger(config.logLevel);
    const db = await open(config, log);
    const metrics = createAppMetrics(db.pool);
    const modules = createProcessModules(config, db, log, metrics);
    const worker = await startWorker(config, db, log, metrics, modules);
    const api = await startApi(config, db, log, metrics, modules);
    const stopModules = await startModules(modules, { api: true, worker: true });
    const demo = config.demo ? await ensureDemo(db.pool) : null;
    onShutdown(log, async () => {
      await api.stop();
      await worker.stop();
      await stopModules();
      await db.close();
    });
    const base = config.publicBaseUrl;
    const lines = [
      '',
      `Bulkhead is ready in ${Date.now() - started} ms`,
      `  API + dashboard   ${base}/`,
      `  API docs          ${base}/docs`,
      `  database          ${db.embedded ? `embedded PostgreSQL on port ${db.embedded.port} (data in ${config.dataDir})` : 'DATABASE_URL'}`,
      `  admin token       ${config.adminToken}${config.adminTokenGenerated ? '   (generated; set ADMIN_TOKEN to keep one)' : ''}`,
    ];
    if (demo?.token) {
      lines.push(
        `  demo business     id ${demo.businessId}${demo.seeded ? ' (seeded just now)' : ''}`,
        `  demo token        ${demo.token}`,
        `  sign in           ${base}/#token=${demo.token}`,
        `  try               curl -H 'Authorization: Bearer ${demo.token}' ${base}/api/v1/leads?limit=3`,
      );
    }
    console.log(lines.join('\n') + '\n');
  });

program
  .command('api')
  .description('The HTTP API (any number of these may share one PostgreSQL).')
  .action(async () => {
    const config = load();
    const log = createLogger(config.logLevel);
    const db = await open(config, log);
    const metrics = createAppMetrics(db.pool);
    const modules = createProcessModules(config, db, log, metrics);
    const api = await startApi(config, db, log, metrics, modules);
    const stopModules = await startModules(modules, { api: true, worker: false });
    log.info({ url: api.url }, 'API listening');
    onShutdown(log, async () => {
      await api.stop();
      await stopModules();
      await db.close();
    });
  });

program
  .command('worker')
  .description('A job worker (any number of these may share one PostgreSQL). SIGTERM finishes the current batch and hands jobs back.')
  .action(async () => {
    const config = load();
    const log = createLogger(config.logLevel);
    const db = await open(config, log);
    const metrics = createAppMetrics(db.pool);
    const modules = createProcessModules(config, db, log, metrics);
    const worker = await startWorker(config, db, log, metrics, modules);
    const stopModules = await startModules(modules, { api: false, worker: true });
    onShutdown(log, async () => {
      await worker.stop();
      await stopModules();
      await db.close();
    });
  });

program
  .command('migrate')
  .description('Apply pending database migrations and exit.')
  .action(async () => {
    const config = load();
    const log = createLogger(config.logLevel);
    const db = await open(config, log);
    await db.close();
    console.log('migrations applied');
  });

program.parseAsync(process.argv).catch((err) => {
  console.error((err as Error).message);
  process.exit(EXIT.failure);
});
