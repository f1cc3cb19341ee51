import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { GMAIL_REFRESH_TOKEN } from '../channels/sealed-fields.js';
import { withTx } from '../db/pool.js';
import { acceptJob, type AcceptDeps, type Accepted, type Caller } from '../gate/accept.js';
import { OPERATIONS } from '../gate/operations.js';
import { isActiveLockViolation } from '../jobs/admission.js';
import { activeJobByLockKey } from '../jobs/domain-api.js';
import { insertJob } from '../jobs/jobs.repo.js';
import type { JobParams } from '../jobs/types.js';
import { AppError, ConflictError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { isMessageKey, msg, render, type Locale } from '../lib/messages.js';
import type { SecretBox } from '../lib/secret-box.js';
import { recordAudit, type Actor } from '../people/audit.repo.js';
import { consentUrl, exchangeCode, GoogleGrantError, revokeGrant, type GoogleSettings } from '../providers/google/google.js';
import { deleteConnection, getConnection, insertOAuthState, setNextSyncAt, takeDueConnection, takeOAuthState, upsertConnection, type ConnectionRow } from './gmail.repo.js';
import { isMissedTurn, nextSyncAt } from './sync-schedule.js';
import type { syncGmailJob } from './sync-gmail.job.js';

/** A consent must come back within this (Google's own consent page does not wait longer than a person would). */
const STATE_TTL_MS = 10 * 60_000;

export interface GmailDeps {
  pool: pg.Pool;
  accept: AcceptDeps;
  box: () => SecretBox;
  google: () => GoogleSettings;
  syncEveryMs: number;
  log: Logger;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * The callback's state is not one we handed out, was used, expired, or came from another
 * browser: 403 (as a forged webhook gets), nothing changed.
 */
export class OAuthStateError extends AppError {
  constructor() {
    super(403, 'oauth_state_invalid', msg('gmail.oauth_state_invalid'));
  }
}

/** Google came back without a grant (the person clicked Cancel, or the code was refused): 422. */
export class OAuthRefusedError extends AppError {
  constructor() {
    super(422, 'oauth_refused', msg('gmail.oauth_refused'));
  }
}

/** What GET /integrations/gmail answers; last_error said in the reader's language. */
export function connectionView(c: ConnectionRow | null, locale: Locale) {
  if (!c) return { connected: false, email: null, status: null, last_sync_at: null, last_error: null };
  const error = c.last_error === null ? null : isMessageKey(c.last_error) ? render({ key: c.last_error, params: undefined }, locale) : c.last_error;
  return { connected: c.status === 'connected', email: c.email, status: c.status, last_sync_at: c.last_sync_at?.toISOString() ?? null, last_error: error };
}

/**
 * The consent URL for this business and user. The state is 32 random bytes; only its hash is
 * stored, bound to the business and the user, for 10 minutes, once. When asked from a dashboard
 * session, a browser nonce goes into a cookie of the answer and its hash beside the state: the
 * callback must then come from that same browser.
 */
export async function startConnect(deps: GmailDeps, who: { businessId: number; userId: number }, fromBrowser: boolean): Promise<{ authUrl: string; browserNonce: string | null }> {
  const state = randomBytes(32).toString('base64url');
  const browserNonce = fromBrowser ? randomBytes(32).toString('base64url') : null;
  await insertOAuthState(deps.pool, {
    stateHash: sha256(state),
    businessId: who.businessId,
    userId: who.userId,
    browserNonceHash: browserNonce === null ? null : sha256(browserNonce),
    ttlMs: STATE_TTL_MS,
  });
  return { authUrl: await consentUrl(deps.google(), state), browserNonce };
}

/**
 * Google sent the browser back. The state must be one we handed out, unused, unexpired, and —
 * when the consent was started from a session — come with that browser's nonce. Then the code
 * is exchanged, the refresh token sealed and stored, the replaced grant revoked, and the
 * connection put on record, in one transaction. Returns the business connected.
 */
export async function finishConnect(
  deps: GmailDeps,
  q: { code?: string | undefined; state?: string | undefined; error?: string | undefined },
  browserNonce: string | undefined,
  ip: string | null,
): Promise<{ businessId: number }> {
  const taken = q.state ? await takeOAuthState(deps.pool, sha256(q.state)) : null;
  if (!taken?.fresh) throw new OAuthStateError();
  if (taken.browser_nonce_hash !== null && (!browserNonce || !sha256(browserNonce).equals(taken.browser_nonce_hash))) throw new OAuthStateError();
  if (q.error !== undefined || !q.code) throw new OAuthRefusedError();
  const settings = deps.google();
  let granted;
  try {
    granted = await exchangeCode(settings, q.code);
  } catch (err) {
    if (err instanceof GoogleGrantError) throw new OAuthRefusedError();
    throw err;
  }
  const businessId = taken.business_id;
  const box = deps.box();
  const replaced = await withTx(deps.pool, async (tx) => {
    const before = await getConnection(tx, businessId, { forUpdate: true });
    await upsertConnection(tx, {
      businessId,
      email: granted.email,
      sealed: box.seal(granted.refreshToken, GMAIL_REFRESH_TOKEN.context(businessId)),
      userId: taken.user_id,
      // The first sync is due at once; later ones every GMAIL_SYNC_EVERY_MS from here.
      firstSyncInMs: 0,
    });
    await recordAudit(tx, {
      businessId,
      actor: { userId: taken.user_id, email: null, ip },
      action: 'integration.connect',
      targetType: 'integration',
      targetId: 'gmail',
      details: { provider: 'gmail', email: granted.email },
    });
    return before;
  });
  if (replaced) await revokeQuietly(deps, businessId, replaced);
  return { businessId };
}

async function revokeQuietly(deps: GmailDeps, businessId: number, c: ConnectionRow): Promise<void> {
  try {
    await revokeGrant(deps.google(), deps.box().open(c.refresh_token_sealed, GMAIL_REFRESH_TOKEN.context(businessId)));
  } catch (err) {
    deps.log.warn({ err, businessId }, 'could not revoke a replaced Gmail grant at Google; it stays valid there until the user removes it');
  }
}

/** Deletes the connection (and its token) and revokes the grant at Google. Nothing connected: nothing happens. */
export async function disconnect(deps: GmailDeps, who: { businessId: number }, actor: Actor): Promise<void> {
  const gone = await withTx(deps.pool, async (tx) => {
    const row = await deleteConnection(tx, who.businessId);
    if (row) {
      await recordAudit(tx, {
        businessId: who.businessId,
        actor,
        action: 'integration.disconnect',
        targetType: 'integration',
        targetId: 'gmail',
        details: { provider: 'gmail', email: row.email },
      });
    }
    return row;
  });
  if (gone) await revokeQuietly(deps, who.businessId, gone);
}

/** POST /receipts/sync: a sync job of the business's connected mailbox (gated). */
export async function acceptSync(deps: GmailDeps, who: Caller, full: boolean, idempotency: { key: string; requestHash: string } | undefined): Promise<Accepted> {
  const c = await getConnection(deps.pool, who.businessId);
  if (!c) throw new ConflictError('gmail_not_connected', msg('gmail.not_connected'));
  if (c.status !== 'connected') throw new ConflictError('gmail_reauth_required', msg('gmail.reauth_required'));
  return acceptJob(deps.accept, {
    caller: who,
    op: 'sync_gmail_receipts',
    params: { full } satisfies JobParams<ReturnType<typeof syncGmailJob>>,
    total: 0,
    idempotency,
  });
}

/**
 * The periodic sync: every connected business whose turn came (its own phase of
 * GMAIL_SYNC_EVERY_MS, sync-schedule.ts, so businesses are spread over the period) gets a sync
 * job, unless one is active; its next turn is set at once, so a job that fails does not make the
 * scheduler ask again before then. A turn missed by more than `lateAfterMs` (no worker ran) is
 * moved to the next phase point instead of being caught up with every other one at once.
 * Businesses in reauth_required are never due. The scheduler is the system, not a person: no
 * rate limit and no audit entry; the job's lock still allows one at a time.
 */
export async function enqueueDueSyncs(deps: GmailDeps, opts: { max?: number; lateAfterMs?: number; now?: () => number } = {}): Promise<number> {
  const max = opts.max ?? 50;
  const now = opts.now ?? Date.now;
  let queued = 0;
  // Bounded: each round takes one due business and moves its turn on, so none comes back now.
  for (let round = 0; queued < max && round < max * 20; round += 1) {
    const picked = await withTx(deps.pool, async (tx) => {
      const due = await takeDueConnection(tx);
      if (!due) return null;
      const at = now();
      await setNextSyncAt(tx, due.business_id, nextSyncAt(due.business_id, deps.syncEveryMs, at));
      if (opts.lateAfterMs !== undefined && isMissedTurn(due.next_sync_at.getTime(), at, opts.lateAfterMs)) return { queued: false };
      if (await activeJobByLockKey(tx, due.business_id, 'sync_gmail_receipts')) return { queued: false };
      const spec = OPERATIONS.sync_gmail_receipts;
      await insertJob(tx, {
        businessId: due.business_id,
        type: 'sync_gmail_receipts',
        queue: spec.queue,
        priority: spec.priority,
        params: { full: false, periodic: true } satisfies JobParams<ReturnType<typeof syncGmailJob>>,
        paramsHash: 'periodic',
        lockKey: 'sync_gmail_receipts',
        total: 0,
        createdBy: null,
      });
      return { queued: true };
    }).catch((err: unknown) => {
      // A sync asked through the API took the lock between the check and the insert.
      if (isActiveLockViolation(err)) return { queued: false };
      throw err;
    });
    if (!picked) break;
    if (picked.queued) queued += 1;
  }
  return queued;
}
