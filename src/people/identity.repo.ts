import type { Queryable } from '../db/pool.js';
import type { Locale } from '../lib/messages.js';
import { hashToken } from '../tenancy/tokens.js';
import { lowerRole, type Role } from './roles.js';

/** The caller of a tenant route, however it proved who it is. */
export interface AuthContext {
  businessId: number;
  userId: number;
  email: string;
  /** What this request may do: a token's role capped by its user's role today. */
  role: Role;
  defaultCountry: string;
  /** The business's language: server messages follow it unless Accept-Language says otherwise. */
  locale: Locale;
  via: 'token' | 'session';
  tokenId: number | null;
  /** Set for cookie sessions: the hash of the session's CSRF token (double submit, bound to it). */
  csrfHash: Buffer | null;
  sessionIdHash: Buffer | null;
  ip: string | null;
}

/** How often a token's last_used_at or a session's last_seen_at is written: not on every request. */
const TOUCH_EVERY_S = 60;

export async function authenticateToken(db: Queryable, token: string, ip: string | null): Promise<AuthContext | null> {
  const { rows } = await db.query<{
    id: number; business_id: number; user_id: number; email: string; token_role: Role; user_role: Role; default_country: string; locale: Locale; stale: boolean;
  }>(
    `SELECT t.id, t.business_id, t.user_id, u.email, t.role AS token_role, u.role AS user_role, b.default_country, b.locale,
            (t.last_used_at IS NULL OR t.last_used_at < now() - make_interval(secs => $2)) AS stale
       FROM api_tokens t
       JOIN users u ON u.id = t.user_id AND u.business_id = t.business_id
       JOIN businesses b ON b.id = t.business_id
      WHERE t.token_hash = $1 AND NOT u.disabled`,
    [hashToken(token), TOUCH_EVERY_S],
  );
  const row = rows[0];
  if (!row) return null;
  if (row.stale) await db.query(`UPDATE api_tokens SET last_used_at = now() WHERE id = $1`, [row.id]);
  return {
    businessId: row.business_id,
    userId: row.user_id,
    email: row.email,
    role: lowerRole(row.token_role, row.user_role),
    defaultCountry: row.default_country,
    locale: row.locale,
    via: 'token',
    tokenId: row.id,
    csrfHash: null,
    sessionIdHash: null,
    ip,
  };
}

/**
 * A live session: not past its absolute end, used within the idle window, its user enabled.
 * A session found idle or expired is deleted on the spot (the prune task removes the rest).
 */
export async function authenticateSession(db: Queryable, sessionId: string, idleMs: number, ip: string | null): Promise<AuthContext | null> {
  const idHash = hashToken(sessionId);
  const { rows } = await db.query<{
    business_id: number; user_id: number; email: string; role: Role; default_country: string; locale: Locale; csrf_hash: Buffer; live: boolean; stale: boolean;
  }>(
    `SELECT s.business_id, s.user_id, u.email, u.role, b.default_country, b.locale, s.csrf_hash,
            (s.expires_at > now() AND s.last_seen_at > now() - make_interval(secs => $2::double precision / 1000) AND NOT u.disabled) AS live,
            s.last_seen_at < now() - make_interval(secs => $3) AS stale
       FROM sessions s
       JOIN users u ON u.id = s.user_id AND u.business_id = s.business_id
       JOIN businesses b ON b.id = s.business_id
      WHERE s.id_hash = $1`,
    [idHash, idleMs, TOUCH_EVERY_S],
  );
  const row = rows[0];
  if (!row) return null;
  if (!row.live) {
    await db.query(`DELETE FROM sessions WHERE id_hash = $1`, [idHash]);
    return null;
  }
  if (row.stale) await db.query(`UPDATE sessions SET last_seen_at = now() WHERE id_hash = $1`, [idHash]);
  return {
    businessId: row.business_id,
    userId: row.user_id,
    email: row.email,
    role: row.role,
    defaultCountry: row.default_country,
    locale: row.locale,
    via: 'session',
    tokenId: null,
    csrfHash: row.csrf_hash,
    sessionIdHash: idHash,
    ip,
  };
}
