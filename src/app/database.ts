import type pg from 'pg';
import type { Config } from '../config/config.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../db/embedded.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import type { Logger } from '../lib/logger.js';

export interface Database {
  url: string;
  pool: pg.Pool;
  embedded: EmbeddedPostgresHandle | null;
  /** Idempotent: ends the pool and stops the embedded server, if any. */
  close(): Promise<void>;
}

/** DATABASE_URL when set; otherwise the embedded PostgreSQL under DATA_DIR. Migrates either way. */
export async function openDatabase(config: Config, log: Logger, opts: { migrate: boolean } = { migrate: true }): Promise<Database> {
  const embedded = config.databaseUrl ? null : await startEmbeddedPostgres({ dataDir: config.dataDir, log: log.child({ part: 'embedded-postgres' }) });
  const url = config.databaseUrl ?? embedded?.url;
  if (!url) throw new Error('no database URL');
  const pool = createPool(url, { max: config.dbPoolMax, idleInTxTimeoutMs: config.dbIdleInTxTimeoutMs }, log);
  try {
    if (opts.migrate) await migrate(pool, log);
  } catch (err) {
    await pool.end().catch(() => undefined);
    await embedded?.stop();
    throw err;
  }
  let closed = false;
  return {
    url,
    pool,
    embedded,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end().catch(() => undefined);
      await embedded?.stop();
    },
  };
}
