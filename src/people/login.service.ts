import type pg from 'pg';
import { withTx } from '../db/pool.js';
import { AppError } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import { recordAudit } from './audit.repo.js';
import { verifyPassword } from './passwords.js';
import type { Role } from './roles.js';
import { createSession, type NewSession } from './sessions.repo.js';
import { insertToken } from './tokens.repo.js';
import { findLoginUser, markLogin, type LoginUser } from './users.repo.js';

/** API.md: more than 5 failures for one email within 15 minutes → 429 too_many_attempts. */
export const LOGIN_MAX_FAILURES = 5;
export const LOGIN_WINDOW_S = 15 * 60;

export interface LoginInput {
  email: string;
  password: string;
  ip: string | null;
  userAgent: string | null;
  sessionMaxMs: number;
}

export interface Who {
  user: { id: number; email: string; role: Role };
  business: { id: number; name: string; locale: 'he' | 'en' };
}

export interface LoggedIn extends NewSession, Who {}

export class InvalidCredentials extends AppError {
  constructor() {
    // One answer for an unknown email, a wrong password and a disabled user: it names no account.
    super(401, 'invalid_credentials', msg('auth.invalid_credentials'));
  }
}

export class TooManyAttempts extends AppError {
  constructor(retryAfterS: number) {
    const retry = Math.max(1, Math.ceil(retryAfterS));
    super(429, 'too_many_attempts', msg('auth.too_many_attempts', { retry }), { retry_after: retry }, { 'retry-after': String(retry) });
  }
}

/**
 * One sign-in attempt. A transaction-scoped advisory lock per email serializes the attempts for
 * that email, so six parallel guesses cannot all read "four failures so far" and all be tried;
 * the password hash (~60 ms, off the event loop) runs under it. A failure is recorded (and
 * audited, when the email is a user's) in the same transaction, which commits before the 401.
 */
export async function login(pool: pg.Pool, input: LoginInput): Promise<LoggedIn> {
  return checkCredentials(pool, input, 'password', async (tx, user) => {
    const session = await createSession(tx, { userId: user.id, businessId: user.business_id, maxMs: input.sessionMaxMs, ip: input.ip, userAgent: input.userAgent });
    return { ...session, ...whoOf(user) };
  });
}

/**
 * Email and password for a bearer token of one's own (the CLI's `bulkhead login`): the same
 * throttle and audit as a sign-in, and a token with the user's role that shows in GET /tokens
 * and is revoked like any other. Agents may do this: it is how they sign in from a terminal.
 */
export async function loginForToken(pool: pg.Pool, input: Omit<LoginInput, 'sessionMaxMs'> & { tokenName: string }): Promise<Who & { token: string; tokenId: number }> {
  return checkCredentials(pool, input, 'token', async (tx, user) => {
    const { row, token } = await insertToken(tx, { businessId: user.business_id, userId: user.id, name: input.tokenName, role: user.role });
    await recordAudit(tx, { businessId: user.business_id, actor: { userId: user.id, email: user.email, tokenId: row.id, ip: input.ip }, action: 'token.create', targetType: 'token', targetId: row.id, details: { name: row.name, role: row.role, via: 'login' } });
    return { ...whoOf(user), token, tokenId: row.id };
  });
}

function whoOf(user: LoginUser): Who {
  return { user: { id: user.id, email: user.email, role: user.role }, business: { id: user.business_id, name: user.business_name, locale: user.business_locale } };
}

async function checkCredentials<T>(
  pool: pg.Pool,
  input: { email: string; password: string; ip: string | null },
  via: 'password' | 'token',
  issue: (tx: pg.PoolClient, user: LoginUser) => Promise<T>,
): Promise<T> {
  const email = input.email.trim().toLowerCase();
  const outcome = await withTx(pool, async (tx): Promise<{ ok: T } | { refused: AppError }> => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('login:' || $1, 0))`, [email]);
    const { rows } = await tx.query<{ n: number; retry_s: number | null }>(
      `SELECT count(*)::int AS n,
              extract(epoch FROM (min(at) FILTER (WHERE rank <= $2)) + make_interval(secs => $3) - now())::float8 AS retry_s
         FROM (SELECT at, row_number() OVER (ORDER BY at DESC) AS rank
                 FROM login_failures WHERE email = $1 AND at > now() - make_interval(secs => $3)) recent`,
      [email, LOGIN_MAX_FAILURES, LOGIN_WINDOW_S],
    );
    const recent = rows[0];
    if (recent && recent.n >= LOGIN_MAX_FAILURES) return { refused: new TooManyAttempts(recent.retry_s ?? LOGIN_WINDOW_S) };

    const user = await findLoginUser(tx, email);
    const passwordOk = await verifyPassword(user?.password_hash ?? null, input.password);
    const actor = user ? { userId: user.id, email: user.email, ip: input.ip } : null;
    if (!user || !passwordOk || user.disabled) {
      await tx.query(`INSERT INTO login_failures (email) VALUES ($1)`, [email]);
      if (user) {
        await recordAudit(tx, {
          businessId: user.business_id,
          actor,
          action: 'auth.login_failed',
          targetType: 'user',
          targetId: user.id,
          details: { reason: user.disabled ? 'disabled' : 'wrong_password' },
        });
      }
      return { refused: new InvalidCredentials() };
    }
    await tx.query(`DELETE FROM login_failures WHERE email = $1`, [email]);
    await markLogin(tx, user.id);
    await recordAudit(tx, { businessId: user.business_id, actor, action: 'auth.login', targetType: 'user', targetId: user.id, details: { via } });
    return { ok: await issue(tx, user) };
  });
  if ('refused' in outcome) throw outcome.refused;
  return outcome.ok;
}
