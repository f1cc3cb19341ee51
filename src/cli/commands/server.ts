/**
 * The server commands' actions (start, api, worker, migrate). main.ts imports this module only
 * when one of them runs, so the client commands start without loading Fastify, pg and the domains.
 */
import { ConfigError, loadConfig, type Config } from '../../config/config.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import { ensureDemo } from '../demo.js';
import { openDatabase, type Database } from '../../app/database.js';
import type { ModuleRoles } from '../../app/module.js';
import { startProcess, type BulkheadProcess } from '../../app/process.js';
import { EXIT } from './exit-codes.js';

/** The configuration, or exit 3 with the message naming the bad variable. */
export function load(env: NodeJS.ProcessEnv = process.env): Config {
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

/** The database (migrated), or exit 4 with a clear line. */
export async function openDatabaseOrExit(config: Config, log: Logger): Promise<Database> {
  try {
    return await openDatabase(config, log);
  } catch (err) {
    log.fatal({ err }, 'cannot open the database');
    console.error(`Cannot open the database: ${(err as Error).message}`);
    process.exit(EXIT.unavailable);
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

/** The composition root with the roles of the command; exits with a clear line when the database cannot be opened. */
async function launch(config: Config, log: Logger, roles: ModuleRoles): Promise<BulkheadProcess> {
  const db = await openDatabaseOrExit(config, log);
  try {
    const proc = await startProcess({ config, log, roles, db });
    onShutdown(log, async () => {
      await proc.stop({ timeoutMs: SHUTDOWN_TIMEOUT_MS });
      await db.close();
    });
    return proc;
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** A batch in flight gets this long to finish and hand its job back on SIGTERM. */
const SHUTDOWN_TIMEOUT_MS = 30_000;

export async function start(): Promise<void> {
  const started = Date.now();
  const config = load({ DEMO: '1', ...process.env });
  const log = createLogger(config.logLevel);
  const proc = await launch(config, log, { api: true, worker: true });
  const demo = config.demo ? await ensureDemo(proc.db.pool) : null;
  const base = config.publicBaseUrl;
  const lines = [
    '',
    `Bulkhead is ready in ${Date.now() - started} ms`,
    `  API + dashboard   ${base}/`,
    `  API docs          ${base}/docs`,
    `  database          ${proc.db.embedded ? `embedded PostgreSQL on port ${proc.db.embedded.port} (data in ${config.dataDir})` : 'DATABASE_URL'}`,
    // A supplied token is a secret the operator already has; printing it would copy it into
    // whatever collects this output (terminal scrollback, CI logs, a supervisor's log files).
    config.adminTokenGenerated
      ? `  admin token       ${config.adminToken}   (generated; set ADMIN_TOKEN to keep one)`
      : '  admin token       from ADMIN_TOKEN (not shown)',
  ];
  if (demo) {
    lines.push(`  demo business     id ${demo.businessId}${demo.seeded ? ' (seeded just now)' : ''}: an Israeli business, in Hebrew`);
    for (const p of demo.people) lines.push(`  sign in (${p.role})`.padEnd(20) + `${base}/  ${p.email}  password ${p.password}`);
    lines.push(
      '                    (passwords and token are new on every start)',
      `  or open           ${base}/#token=${demo.token}`,
      `  demo token        ${demo.token}`,
      `  try               curl -H 'Authorization: Bearer ${demo.token}' ${base}/api/v1/leads?limit=3`,
      `  or                BULKHEAD_URL=${base} BULKHEAD_TOKEN=${demo.token} npx bulkhead jobs list`,
    );
  }
  console.log(lines.join('\n') + '\n');
}

export async function api(): Promise<void> {
  const config = load();
  const log = createLogger(config.logLevel);
  const proc = await launch(config, log, { api: true, worker: false });
  log.info({ url: proc.url }, 'API listening');
}

export async function worker(): Promise<void> {
  const config = load();
  const log = createLogger(config.logLevel);
  await launch(config, log, { api: false, worker: true });
  log.info('worker running');
}

export async function migrate(): Promise<void> {
  const config = load();
  const log = createLogger(config.logLevel);
  const db = await openDatabaseOrExit(config, log);
  await db.close();
  console.log('migrations applied');
}
