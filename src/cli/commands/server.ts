/**
 * The server commands' actions (start, api, worker, migrate). main.ts imports this module only
 * when one of them runs, so the client commands start without loading Fastify, pg and the domains.
 */
import { ConfigError, loadConfig, type Config } from '../../config/config.js';
import { createAppMetrics } from '../../http/metrics.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import { ensureDemo } from '../demo.js';
import { createProcessModules, openDatabase, startApi, startModules, startWorker, type Database } from '../runtime.js';
import { EXIT } from './exit-codes.js';

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

export async function start(): Promise<void> {
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
      `  or                BULKHEAD_URL=${base} BULKHEAD_TOKEN=${demo.token} npx bulkhead jobs list`,
    );
  }
  console.log(lines.join('\n') + '\n');
}

export async function api(): Promise<void> {
  const config = load();
  const log = createLogger(config.logLevel);
  const db = await open(config, log);
  const metrics = createAppMetrics(db.pool);
  const modules = createProcessModules(config, db, log, metrics);
  const server = await startApi(config, db, log, metrics, modules);
  const stopModules = await startModules(modules, { api: true, worker: false });
  log.info({ url: server.url }, 'API listening');
  onShutdown(log, async () => {
    await server.stop();
    await stopModules();
    await db.close();
  });
}

export async function worker(): Promise<void> {
  const config = load();
  const log = createLogger(config.logLevel);
  const db = await open(config, log);
  const metrics = createAppMetrics(db.pool);
  const modules = createProcessModules(config, db, log, metrics);
  const running = await startWorker(config, db, log, metrics, modules);
  const stopModules = await startModules(modules, { api: false, worker: true });
  onShutdown(log, async () => {
    await running.stop();
    await stopModules();
    await db.close();
  });
}

export async function migrate(): Promise<void> {
  const config = load();
  const log = createLogger(config.logLevel);
  const db = await open(config, log);
  await db.close();
  console.log('migrations applied');
}
