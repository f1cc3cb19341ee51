import type pg from 'pg';

export interface LazyTransaction {
  /** What the handler sees as its transaction: only `query` (the one method handlers use). */
  tx: pg.PoolClient;
  /** The connection the handler's first statement took, with a transaction open on it; null while none. */
  readonly client: pg.PoolClient | null;
  /** Hands the connection back (destroying it when `broken`); nothing when none was taken. */
  release(broken: boolean): void;
}

/**
 * The batch transaction, opened by the handler's first statement instead of before the handler:
 * a batch that makes no statement (a no-op, a provider call whose outcome is recorded elsewhere)
 * takes no pooled connection and costs no BEGIN/COMMIT, and its progress is settled with other
 * such batches in one statement (completions.ts). For every other batch nothing changes: its
 * first statement takes a connection and sends BEGIN, and the handler's statements, the progress
 * and the checkpoint commit together on it.
 *
 * Statements keep their order: each is sent once BEGIN has answered, in the order the handler
 * made them (they chain on the same promise). A failed connect or BEGIN fails every statement, so
 * none runs outside the transaction.
 */
export function openOnFirstStatement(pool: pg.Pool): LazyTransaction {
  let client: pg.PoolClient | null = null;
  let opened: Promise<pg.PoolClient> | null = null;
  let done = false;
  const open = async (): Promise<pg.PoolClient> => {
    const c = await pool.connect();
    if (done) {
      // The batch ended (a handler that threw without awaiting its statement) before the
      // connection came: nothing may run on it.
      c.release();
      throw new Error('the batch transaction ended before its first statement could run');
    }
    client = c;
    await c.query('BEGIN');
    return c;
  };
  const query = (...args: unknown[]): Promise<unknown> => {
    opened ??= open();
    return opened.then((c) => (c.query as (...a: unknown[]) => Promise<unknown>)(...args));
  };
  // Handlers use only query() on their transaction (checked: `tx.query` is the only member of tx
  // named in src/); anything else reads as undefined rather than as a connection that is not there.
  const tx = new Proxy({}, { get: (_t, prop) => (prop === 'query' ? query : undefined) }) as pg.PoolClient;
  return {
    tx,
    get client() {
      return client;
    },
    release(broken) {
      done = true;
      client?.release(broken);
      client = null;
    },
  };
}
