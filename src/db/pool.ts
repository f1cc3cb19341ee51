import pg from 'pg';
import type { Logger } from '../lib/logger.js';

// BIGINT ids and counts come back as JS numbers: every id we issue stays far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that runs a query: the pool or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

export interface PoolOptions {
  max: number;
  applicationName?: string;
  /**
   * The server ends a session that sits idle inside a transaction this long. A worker frozen
   * mid-batch (SIGSTOP, a swapped-out VM) then loses its transaction and its row lock, so the
   * rescuer can hand the job to another worker; its late COMMIT fails. 0 disables.
   */
  idleInTxTimeoutMs?: number;
}

export function createPool(url: string, opts: PoolOptions, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max,
    application_name: opts.applicationName ?? 'bulkhead',
    connectionTimeoutMillis: 10_000,
    ...(opts.idleInTxTimeoutMs ? { idle_in_transaction_session_timeout: opts.idleInTxTimeoutMs } : {}),
  });
  // An idle client whose server went away emits 'error'; without a listener Node would crash.
  pool.on('error', (err) => log.warn({ err }, 'idle database connection lost'));
  // pg-pool takes its own 'error' listener off a client while it is checked out, so a server
  // restart that cuts a connection between two queries of a transaction (a batch handler
  // awaiting the provider, say) emitted an unhandled 'error' and killed the process — found by
  // the chaos suite (bench/chaos, "PostgreSQL restart"). With this listener the client's next
  // query fails instead, the transaction is retried, and the broken client is discarded.
  pool.on('connect', (client) => {
    client.on('error', (err) => log.warn({ err }, 'database connection lost while checked out'));
  });
  return pool;
}

/**
 * PostgreSQL errors that mean "try the whole transaction again": serialization failure,
 * deadlock, and the connection-level ones a restarting server produces.
 */
const RETRYABLE_PG_CODES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000', // connection_exception
  '08003', // connection_does_not_exist
  '08006', // connection_failure
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
]);

export function isRetryablePgError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && RETRYABLE_PG_CODES.has(code)) return true;
  const message = (err as { message?: unknown }).message;
  // "not queryable": a pooled client whose connection broke earlier (a restart) — the chaos suite
  // saw these answered 500 instead of 503.
  return typeof message === 'string' && /Connection terminated|ECONNREFUSED|ECONNRESET|not queryable|the database system is (shutting down|starting up)/.test(message);
}

/** Runs fn in a transaction on a client of its own; the service owns the transaction. */
export async function withTx<T>(pool: pg.Pool, fn: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      broken = true;
    }
    throw err;
  } finally {
    client.release(broken);
  }
}
