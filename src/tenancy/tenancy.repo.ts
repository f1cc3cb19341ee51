import type { Queryable } from '../db/pool.js';
import { hashToken, newToken } from './tokens.js';

export interface Business {
  id: number;
  name: string;
  max_outbound_calls: number;
  timezone: string;
  default_country: string;
  rate_limits: Record<string, number>;
  created_at: Date;
}

export interface User {
  id: number;
  business_id: number;
  email: string;
  created_at: Date;
}

export interface AuthContext {
  businessId: number;
  userId: number;
  defaultCountry: string;
}

const BUSINESS_COLUMNS = 'id, name, max_outbound_calls, timezone, default_country, rate_limits, created_at';

export async function insertBusiness(
  db: Queryable,
  b: { name: string; maxOutboundCalls?: number | undefined; timezone?: string | undefined; defaultCountry?: string | undefined },
): Promise<Business> {
  const { rows } = await db.query<Business>(
    `INSERT INTO businesses (name, max_outbound_calls, timezone, default_country)
     VALUES ($1, coalesce($2, 3), coalesce($3, 'UTC'), coalesce($4, 'US'))
     RETURNING ${BUSINESS_COLUMNS}`,
    [b.name, b.maxOutboundCalls ?? null, b.timezone ?? null, b.defaultCountry ?? null],
  );
  return first(rows);
}

export async function getBusiness(db: Queryable, id: number): Promise<Business | null> {
  const { rows } = await db.query<Business>(`SELECT ${BUSINESS_COLUMNS} FROM businesses WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function updateBusiness(
  db: Queryable,
  id: number,
  patch: { maxOutboundCalls?: number | undefined; rateLimits?: Record<string, number> | undefined; timezone?: string | undefined },
): Promise<Business | null> {
  const { rows } = await db.query<Business>(
    `UPDATE businesses
        SET max_outbound_calls = coalesce($2, max_outbound_calls),
            rate_limits = CASE WHEN $3::jsonb IS NULL THEN rate_limits ELSE rate_limits || $3::jsonb END,
            timezone = coalesce($4, timezone)
      WHERE id = $1
      RETURNING ${BUSINESS_COLUMNS}`,
    [id, patch.maxOutboundCalls ?? null, patch.rateLimits ? JSON.stringify(patch.rateLimits) : null, patch.timezone ?? null],
  );
  return rows[0] ?? null;
}

/** Creates a user and a bearer token for it; the token is returned once and stored hashed. */
export async function insertUserWithToken(db: Queryable, businessId: number, email: string): Promise<{ user: User; token: string }> {
  const { rows } = await db.query<User>(
    `INSERT INTO users (business_id, email) VALUES ($1, $2) RETURNING id, business_id, email, created_at`,
    [businessId, email],
  );
  const user = first(rows);
  const token = newToken();
  await db.query(`INSERT INTO api_tokens (token_hash, user_id, business_id) VALUES ($1, $2, $3)`, [
    hashToken(token),
    user.id,
    businessId,
  ]);
  return { user, token };
}

export async function authenticate(db: Queryable, token: string): Promise<AuthContext | null> {
  const { rows } = await db.query<{ business_id: number; user_id: number; default_country: string }>(
    `SELECT t.business_id, t.user_id, b.default_country
       FROM api_tokens t JOIN businesses b ON b.id = t.business_id
      WHERE t.token_hash = $1`,
    [hashToken(token)],
  );
  const row = rows[0];
  return row ? { businessId: row.business_id, userId: row.user_id, defaultCountry: row.default_country } : null;
}

function first<T>(rows: T[]): T {
  const row = rows[0];
  if (row === undefined) throw new Error('INSERT … RETURNING gave no row');
  return row;
}
