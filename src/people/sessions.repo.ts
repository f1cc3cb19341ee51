import { randomBytes } from 'node:crypto';
import type { Queryable } from '../db/pool.js';
import { hashToken } from '../tenancy/tokens.js';

export interface NewSession {
  /** Goes into the httpOnly `bh_session` cookie; stored only hashed. */
  sessionId: string;
  /** Goes into the readable `bh_csrf` cookie; the client echoes it in X-CSRF-Token. */
  csrfToken: string;
}

export async function createSession(
  db: Queryable,
  s: { userId: number; businessId: number; maxMs: number; ip: string | null; userAgent: string | null },
): Promise<NewSession> {
  const sessionId = randomBytes(24).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  await db.query(
    `INSERT INTO sessions (id_hash, user_id, business_id, csrf_hash, expires_at, ip, user_agent)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::double precision / 1000), $6, $7)`,
    [hashToken(sessionId), s.userId, s.businessId, hashToken(csrfToken), s.maxMs, s.ip, s.userAgent?.slice(0, 300) ?? null],
  );
  return { sessionId, csrfToken };
}

export async function deleteSession(db: Queryable, idHash: Buffer): Promise<void> {
  await db.query(`DELETE FROM sessions WHERE id_hash = $1`, [idHash]);
}

/** Signs a user out everywhere (disabled, or its role lowered by someone else). */
export async function deleteUserSessions(db: Queryable, businessId: number, userId: number): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM sessions WHERE business_id = $1 AND user_id = $2`, [businessId, userId]);
  return rowCount ?? 0;
}

/** Sessions past their idle window or their end. */
export async function pruneSessions(db: Queryable, idleMs: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM sessions WHERE expires_at < now() OR last_seen_at < now() - make_interval(secs => $1::double precision / 1000)`,
    [idleMs],
  );
  return rowCount ?? 0;
}

/** Failed sign-ins older than a day: far past the throttle's window (login.service.ts), kept only that long. */
export async function pruneLoginFailures(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM login_failures WHERE at < now() - interval '1 day'`);
  return rowCount ?? 0;
}
