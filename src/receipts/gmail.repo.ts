import type { Queryable } from '../db/pool.js';

/* A business's Gmail connection and its consents in progress (migration 015). */

export type ConnectionStatus = 'connected' | 'reauth_required';

export interface ConnectionRow {
  business_id: number;
  email: string;
  refresh_token_sealed: string;
  status: ConnectionStatus;
  history_id: string | null;
  connected_by: number | null;
  connected_at: Date;
  last_sync_at: Date | null;
  /** A message key (src/lib/messages.ts). */
  last_error: string | null;
  next_sync_at: Date;
}

const COLUMNS = 'business_id, email, refresh_token_sealed, status, history_id, connected_by, connected_at, last_sync_at, last_error, next_sync_at';

export async function insertOAuthState(
  db: Queryable,
  s: { stateHash: Buffer; businessId: number; userId: number; browserNonceHash: Buffer | null; ttlMs: number },
): Promise<void> {
  // Consents never finished are pruned here, by the next one of any business.
  await db.query(`DELETE FROM gmail_oauth_states WHERE expires_at < now() - interval '1 day'`);
  await db.query(
    `INSERT INTO gmail_oauth_states (state_hash, business_id, user_id, browser_nonce_hash, expires_at)
     VALUES ($1, $2, $3, $4, now() + $5 * interval '1 millisecond')`,
    [s.stateHash, s.businessId, s.userId, s.browserNonceHash, s.ttlMs],
  );
}

/** Takes the state (deleted: it works once); null when unknown. `fresh` is false once it expired. */
export async function takeOAuthState(
  db: Queryable,
  stateHash: Buffer,
): Promise<{ business_id: number; user_id: number; browser_nonce_hash: Buffer | null; fresh: boolean } | null> {
  const { rows } = await db.query<{ business_id: number; user_id: number; browser_nonce_hash: Buffer | null; fresh: boolean }>(
    `DELETE FROM gmail_oauth_states WHERE state_hash = $1 RETURNING business_id, user_id, browser_nonce_hash, expires_at > now() AS fresh`,
    [stateHash],
  );
  const row = rows[0];
  return row ? { ...row, business_id: Number(row.business_id), user_id: Number(row.user_id) } : null;
}

export async function getConnection(db: Queryable, businessId: number, opts: { forUpdate?: boolean } = {}): Promise<ConnectionRow | null> {
  const { rows } = await db.query<ConnectionRow>(
    `SELECT ${COLUMNS} FROM gmail_connections WHERE business_id = $1${opts.forUpdate ? ' FOR UPDATE' : ''}`,
    [businessId],
  );
  return rows[0] ?? null;
}

/**
 * Connects (or reconnects) the business's mailbox. The same mailbox again keeps its historyId,
 * so a reconnect after `reauth_required` goes on incrementally; another mailbox starts over
 * with a full sync. Returns the sealed token it replaced, if any (to revoke at Google).
 */
export async function upsertConnection(
  db: Queryable,
  c: { businessId: number; email: string; sealed: string; userId: number; firstSyncInMs: number },
): Promise<void> {
  await db.query(
    `INSERT INTO gmail_connections (business_id, email, refresh_token_sealed, connected_by, next_sync_at)
     VALUES ($1, $2, $3, $4, now() + $5 * interval '1 millisecond')
     ON CONFLICT (business_id) DO UPDATE SET
       history_id = CASE WHEN gmail_connections.email = EXCLUDED.email THEN gmail_connections.history_id END,
       email = EXCLUDED.email, refresh_token_sealed = EXCLUDED.refresh_token_sealed, status = 'connected',
       connected_by = EXCLUDED.connected_by, connected_at = now(), last_error = NULL, next_sync_at = EXCLUDED.next_sync_at`,
    [c.businessId, c.email, c.sealed, c.userId, c.firstSyncInMs],
  );
}

export async function deleteConnection(db: Queryable, businessId: number): Promise<ConnectionRow | null> {
  const { rows } = await db.query<ConnectionRow>(`DELETE FROM gmail_connections WHERE business_id = $1 RETURNING ${COLUMNS}`, [businessId]);
  return rows[0] ?? null;
}

/** The grant is gone: no sync runs (periodic or asked) until the business connects again. */
export async function markReauthRequired(db: Queryable, businessId: number, errorKey: string): Promise<void> {
  await db.query(`UPDATE gmail_connections SET status = 'reauth_required', last_error = $2 WHERE business_id = $1`, [businessId, errorKey]);
}

export async function setLastError(db: Queryable, businessId: number, errorKey: string | null): Promise<void> {
  await db.query(`UPDATE gmail_connections SET last_error = $2 WHERE business_id = $1`, [businessId, errorKey]);
}

/** A sync finished: where the next incremental one starts, and when the periodic one is due. */
export async function recordSyncDone(db: Queryable, businessId: number, historyId: string, nextSyncAt: Date): Promise<void> {
  await db.query(
    `UPDATE gmail_connections SET history_id = $2, last_sync_at = now(), last_error = NULL, next_sync_at = $3
      WHERE business_id = $1`,
    [businessId, historyId, nextSyncAt],
  );
}

/**
 * The next connected business whose periodic sync is due, locked until the caller's transaction
 * ends (SKIP LOCKED: every worker process runs the scheduler without two picking the same one).
 * The caller moves its due time on (setNextSyncAt) in that transaction.
 */
export async function takeDueConnection(db: Queryable): Promise<{ business_id: number; next_sync_at: Date } | null> {
  const { rows } = await db.query<{ business_id: number; next_sync_at: Date }>(
    `SELECT business_id, next_sync_at FROM gmail_connections
      WHERE status = 'connected' AND next_sync_at <= now()
      ORDER BY next_sync_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
  );
  const row = rows[0];
  return row ? { business_id: Number(row.business_id), next_sync_at: row.next_sync_at } : null;
}

export async function setNextSyncAt(db: Queryable, businessId: number, at: Date): Promise<void> {
  await db.query(`UPDATE gmail_connections SET next_sync_at = $2 WHERE business_id = $1`, [businessId, at]);
}
