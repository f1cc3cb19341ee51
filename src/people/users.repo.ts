import type { Queryable } from '../db/pool.js';
import { hashToken, newToken } from '../tenancy/tokens.js';
import type { Role } from './roles.js';

export interface UserRow {
  id: number;
  business_id: number;
  email: string;
  role: Role;
  disabled: boolean;
  /** Whether the user has set a password (accepted the invite). */
  active: boolean;
  invite_expires_at: Date | null;
  last_login_at: Date | null;
  created_at: Date;
}

const USER_COLUMNS = `id, business_id, email, role, disabled, password_hash IS NOT NULL AS active, invite_expires_at, last_login_at, created_at`;

/** API.md: an invite works once, for 7 days. */
export const INVITE_DAYS = 7;

export function newInviteToken(): string {
  return newToken().replace(/^bh_/, 'bhi_');
}

/** A new user with a one-time invite; the invite token is returned once and stored hashed. */
export async function insertInvitedUser(db: Queryable, businessId: number, email: string, role: Role): Promise<{ user: UserRow; inviteToken: string }> {
  const inviteToken = newInviteToken();
  const { rows } = await db.query<UserRow>(
    `INSERT INTO users (business_id, email, role, invite_hash, invite_expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(days => $5))
     RETURNING ${USER_COLUMNS}`,
    [businessId, email, role, hashToken(inviteToken), INVITE_DAYS],
  );
  const user = rows[0];
  if (!user) throw new Error('INSERT … RETURNING gave no row');
  return { user, inviteToken };
}

export async function getUser(db: Queryable, businessId: number, userId: number, opts: { forUpdate?: boolean } = {}): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>(
    `SELECT ${USER_COLUMNS} FROM users WHERE business_id = $1 AND id = $2${opts.forUpdate ? ' FOR UPDATE' : ''}`,
    [businessId, userId],
  );
  return rows[0] ?? null;
}

export async function listUsers(db: Queryable, businessId: number, afterId: number | undefined, limit: number): Promise<UserRow[]> {
  const { rows } = await db.query<UserRow>(
    `SELECT ${USER_COLUMNS} FROM users WHERE business_id = $1 AND ($2::bigint IS NULL OR id > $2) ORDER BY id LIMIT $3`,
    [businessId, afterId ?? null, limit],
  );
  return rows;
}

/** Whether an email can already sign in (in any business): sign-in is by email alone. */
export async function emailCanSignIn(db: Queryable, email: string): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM users WHERE lower(email) = lower($1) AND password_hash IS NOT NULL`, [email]);
  return rows.length > 0;
}

/** Emails are one address whatever their case: Dana@ and dana@ are the same user. */
export async function emailInBusiness(db: Queryable, businessId: number, email: string): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM users WHERE business_id = $1 AND lower(email) = lower($2)`, [businessId, email]);
  return rows.length > 0;
}

export async function inviteIsLive(db: Queryable, inviteToken: string): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM users WHERE invite_hash = $1 AND invite_expires_at > now() AND NOT disabled`, [hashToken(inviteToken)]);
  return rows.length > 0;
}

export interface LoginUser {
  id: number;
  business_id: number;
  business_name: string;
  business_locale: 'he' | 'en';
  email: string;
  role: Role;
  disabled: boolean;
  password_hash: string;
}

export async function findLoginUser(db: Queryable, email: string): Promise<LoginUser | null> {
  const { rows } = await db.query<LoginUser>(
    `SELECT u.id, u.business_id, b.name AS business_name, b.locale AS business_locale, u.email, u.role, u.disabled, u.password_hash
       FROM users u JOIN businesses b ON b.id = u.business_id
      WHERE lower(u.email) = lower($1) AND u.password_hash IS NOT NULL`,
    [email],
  );
  return rows[0] ?? null;
}

/** Sets the password of the user an unexpired, unused invite names, and uses the invite up. */
export async function acceptInvite(db: Queryable, inviteToken: string, passwordHash: string): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>(
    `UPDATE users SET password_hash = $2, invite_hash = NULL, invite_expires_at = NULL
      WHERE invite_hash = $1 AND invite_expires_at > now() AND NOT disabled
      RETURNING ${USER_COLUMNS}`,
    [hashToken(inviteToken), passwordHash],
  );
  return rows[0] ?? null;
}

export async function updateUser(db: Queryable, businessId: number, userId: number, patch: { role?: Role | undefined; disabled?: boolean | undefined }): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>(
    `UPDATE users SET role = coalesce($3, role), disabled = coalesce($4, disabled)
      WHERE business_id = $1 AND id = $2
      RETURNING ${USER_COLUMNS}`,
    [businessId, userId, patch.role ?? null, patch.disabled ?? null],
  );
  return rows[0] ?? null;
}

export async function countEnabledOwners(db: Queryable, businessId: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM users WHERE business_id = $1 AND role = 'owner' AND NOT disabled`,
    [businessId],
  );
  return rows[0]?.n ?? 0;
}

export async function markLogin(db: Queryable, userId: number): Promise<void> {
  await db.query(`UPDATE users SET last_login_at = now() WHERE id = $1`, [userId]);
}
