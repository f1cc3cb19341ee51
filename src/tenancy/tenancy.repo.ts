import type { Queryable } from '../db/pool.js';
import type { Role } from '../people/roles.js';
import { insertToken } from '../people/tokens.repo.js';
import { insertInvitedUser } from '../people/users.repo.js';

export interface Business {
  id: number;
  name: string;
  max_outbound_calls: number;
  timezone: string;
  default_country: string;
  locale: 'he' | 'en';
  rate_limits: Record<string, number>;
  created_at: Date;
}

export interface User {
  id: number;
  business_id: number;
  email: string;
  role: Role;
  created_at: Date;
}

const BUSINESS_COLUMNS = 'id, name, max_outbound_calls, timezone, default_country, locale, rate_limits, created_at';

/** A new business; what it does not give comes from configuration (DEFAULT_COUNTRY, …). */
export async function insertBusiness(
  db: Queryable,
  b: { name: string; maxOutboundCalls?: number | undefined; timezone?: string | undefined; defaultCountry?: string | undefined; locale?: 'he' | 'en' | undefined },
  defaults: { country: string; timezone: string; locale: 'he' | 'en' },
): Promise<Business> {
  const { rows } = await db.query<Business>(
    `INSERT INTO businesses (name, max_outbound_calls, timezone, default_country, locale)
     VALUES ($1, coalesce($2, 3), $3, $4, $5)
     RETURNING ${BUSINESS_COLUMNS}`,
    [b.name, b.maxOutboundCalls ?? null, b.timezone ?? defaults.timezone, b.defaultCountry ?? defaults.country, b.locale ?? defaults.locale],
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
  patch: {
    maxOutboundCalls?: number | undefined;
    rateLimits?: Record<string, number> | undefined;
    timezone?: string | undefined;
    defaultCountry?: string | undefined;
    locale?: 'he' | 'en' | undefined;
  },
): Promise<Business | null> {
  const { rows } = await db.query<Business>(
    `UPDATE businesses
        SET max_outbound_calls = coalesce($2, max_outbound_calls),
            rate_limits = CASE WHEN $3::jsonb IS NULL THEN rate_limits ELSE rate_limits || $3::jsonb END,
            timezone = coalesce($4, timezone),
            default_country = coalesce($5, default_country),
            locale = coalesce($6, locale)
      WHERE id = $1
      RETURNING ${BUSINESS_COLUMNS}`,
    [id, patch.maxOutboundCalls ?? null, patch.rateLimits ? JSON.stringify(patch.rateLimits) : null, patch.timezone ?? null, patch.defaultCountry ?? null, patch.locale ?? null],
  );
  return rows[0] ?? null;
}

/**
 * A user with a role, an invite (to set a password and sign in) and a bearer token named
 * "default" for scripts; the secrets are returned once and stored hashed.
 */
export async function insertUserWithToken(
  db: Queryable,
  businessId: number,
  email: string,
  role: Role = 'owner',
): Promise<{ user: User; token: string; inviteToken: string }> {
  const { user, inviteToken } = await insertInvitedUser(db, businessId, email, role);
  const { token } = await insertToken(db, { businessId, userId: user.id, name: 'default', role });
  return { user: { id: user.id, business_id: user.business_id, email: user.email, role: user.role, created_at: user.created_at }, token, inviteToken };
}

export type { AuthContext } from '../people/identity.repo.js';

function first<T>(rows: T[]): T {
  const row = rows[0];
  if (row === undefined) throw new Error('INSERT … RETURNING gave no row');
  return row;
}
