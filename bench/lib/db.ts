/**
 * A fresh database per scenario (bh_bench_<name>) on the run's server, migrated with our own
 * migrations, plus the few server-side counters the reports quote.
 */
import pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { createLogger, type Logger } from '../../src/lib/logger.js';
import type { BenchServer } from './server.js';

export const quietLog: Logger = createLogger('silent', 'bench');

export interface BenchDatabase {
  name: string;
  url: string;
  /** A pool for setup and observation; engines under test get their own. */
  pool: pg.Pool;
  /** Ends the pool and drops the database, whoever is still connected. Idempotent. */
  drop(): Promise<void>;
}

export async function createBenchDatabase(server: BenchServer, suffix: string): Promise<BenchDatabase> {
  const name = `bh_bench_${suffix.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
  await withClient(server.url, async (c) => {
    const ident = c.escapeIdentifier(name);
    await c.query(`DROP DATABASE IF EXISTS ${ident} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${ident}`);
  });
  const url = databaseUrl(server.url, name);
  const pool = createPool(url, { max: 4, applicationName: 'bench-observer' }, quietLog);
  await migrate(pool, quietLog);
  let dropping: Promise<void> | undefined;
  return {
    name,
    url,
    pool,
    drop: () => (dropping ??= (async () => {
      await pool.end().catch(() => undefined);
      await withClient(server.url, (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`));
    })()),
  };
}

export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Fresh statistics and a clean visibility map after a bulk load, so every contender starts equal. */
export async function vacuumAnalyze(pool: pg.Pool, tables: string[]): Promise<void> {
  for (const table of tables) await pool.query(`VACUUM (ANALYZE) ${table}`);
}

export interface ServerCounters {
  /** Transactions committed in this database (pg_stat_database.xact_commit), ours excluded. */
  commits: number;
  /** Server-wide WAL position in bytes. */
  walBytes: number;
}

/**
 * One connection that watches a run: polls, and reads the server's counters. It counts its own
 * transactions so they can be taken out of the database's commit count, and it flushes its own
 * statistics before each reading (a backend otherwise reports them up to 10 s late).
 */
export class Observer {
  #client: pg.Client;
  #transactions = 0;

  private constructor(client: pg.Client, readonly database: string) {
    this.#client = client;
  }

  static async open(db: Pick<BenchDatabase, 'url' | 'name'>): Promise<Observer> {
    const client = new pg.Client({ connectionString: db.url, application_name: 'bench-observer' });
    await client.connect();
    return new Observer(client, db.name);
  }

  async query<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    this.#transactions++;
    // Tagged so that a statement profile of the database can leave the observer out.
    const { rows } = await this.#client.query<R>(`/* bench-observer */ ${sql}`, values);
    return rows;
  }

  async count(sql: string, values: unknown[] = []): Promise<number> {
    const rows = await this.query<{ n: number | string }>(sql, values);
    return Number(rows[0]?.n ?? 0);
  }

  /** Waits until no other session is connected to the database (their statistics are then flushed). */
  async waitForOthersToLeave(timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const n = await this.count(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [this.database]);
      if (n === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Commits in this database and the WAL position; commits exclude this observer's own transactions. */
  async counters(): Promise<ServerCounters> {
    await this.query('SELECT pg_stat_force_next_flush()');
    const ours = this.#transactions;
    const rows = await this.query<{ commits: string; wal: string }>(
      `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = $1)::text AS commits,
              pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS wal`,
      [this.database],
    );
    return { commits: Number(rows[0]?.commits ?? 0) - ours, walBytes: Number(rows[0]?.wal ?? 0) };
  }

  async close(): Promise<void> {
    await this.#client.end();
  }
}
