import type { Queryable } from '../db/pool.js';
import { hashToken, newToken } from '../tenancy/tokens.js';
import type { Role } from './roles.js';

export interface TokenRow {
  id: number;
  name: string;
  role: Role;
  user_id: number;
  user_email: string;
  created_at: Date;
  last_used_at: Date | null;
}

/** A named token for one user; the secret is returned once and stored hashed. */
export async function insertToken(db: Queryable, t: { businessId: number; userId: number; name: string; role: Role }): Promise<{ row: TokenRow; token: string }> {
  const token = newToken();
  const { rows } = await db.query<TokenRow>(
    `WITH t AS (
       INSERT INTO api_tokens (token_hash, user_id, business_id, name, role) VALUES ($1, $2, $3, $4, $5)
       RETURNING id, name, role, user_id, created_at, last_used_at)
     SELECT t.*, u.email AS user_email FROM t JOIN users u ON u.id = t.user_id`,
    [hashToken(token), t.userId, t.businessId, t.name, t.role],
  );
  const row = rows[0];
  if (!row) throw new Error('INSERT … RETURNING gave no row');
  return { row, token };
}

export async function listTokens(db: Queryable, businessId: number, afterId: number | undefined, limit: number): Promise<TokenRow[]> {
  const { rows } = await db.query<TokenRow>(
    `SELECT t.id, t.name, t.role, t.user_id, u.email AS user_email, t.created_at, t.last_used_at
       FROM api_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.business_id = $1 AND ($2::bigint IS NULL OR t.id > $2)
      ORDER BY t.id LIMIT $3`,
    [businessId, afterId ?? null, limit],
  );
  return rows;
}

export async function getToken(db: Queryable, businessId: number, id: number): Promise<TokenRow | null> {
  const { rows } = await db.query<TokenRow>(
    `SELECT t.id, t.name, t.role, t.user_id, u.email AS user_email, t.created_at, t.last_used_at
       FROM api_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.business_id = $1 AND t.id = $2`,
    [businessId, id],
  );
  return rows[0] ?? null;
}

/** Revoking is deleting: the next request with that token finds nothing (401 at once). */
export async function deleteToken(db: Queryable, businessId: number, id: number): Promise<boolean> {
  const { rowCount } = await db.query(`DELETE FROM api_tokens WHERE business_id = $1 AND id = $2`, [businessId, id]);
  return (rowCount ?? 0) > 0;
}
