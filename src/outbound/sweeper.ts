import type pg from 'pg';
import type { DialerConfig } from '../config/config.js';
import { jobJoin, runnableJobSql, stoppedJobSql } from '../jobs/domain-api.js';
import type { Logger } from '../lib/logger.js';
import type { TelephonyProvider } from '../providers/telephony/types.js';
import type { TelephonyAccounts } from './accounts.js';
import { applyProviderState } from './call-state.js';
import { isActiveCall } from './call-status.js';
import { ACTIVE_SQL } from './calls.repo.js';
import { cancelQueuedItems } from './runs.repo.js';

export interface SweeperDeps {
  pool: pg.Pool;
  provider: TelephonyProvider;
  /** Each call is asked about at the account it was placed through; absent: `provider` for all. */
  accounts?: TelephonyAccounts;
  config: DialerConfig;
  log: Logger;
  requestFill(businessId: number): void;
}

const SWEEP_BATCH = 50;
/** Grace beyond the maximum call duration before we hang up ourselves (Twilio's TimeLimit should have). */
const MAX_DURATION_GRACE_S = 30;

/**
 * The dialer's safety net, one pass per DIALER_SWEEP_MS in every worker process. These are the
 * only cross-tenant statements of the domain: each picks rows across businesses with
 * FOR UPDATE SKIP LOCKED (so several workers share the work) and then acts per business.
 *
 * 1. Calls claimed but never confirmed by the provider (a crash or an unclear answer between
 *    claim and sid): ask the provider for calls to that number since the claim; adopt the one
 *    found, else the call is failed. Never redialled.
 * 2. Active calls without news for DIALER_CHECK_AFTER_MS (a lost final callback): ask the
 *    provider and apply its answer, which frees the slot; hang up calls past their maximum
 *    duration.
 * 3. Runs cancelled (or failed) with queued items: the items become cancelled.
 * 4. Businesses with due queued items (retries, calling hours opening, resumed runs, missed
 *    NOTIFYs): fill their slots.
 */
export function createSweeper(deps: SweeperDeps) {
  const { pool, config, log } = deps;
  const providerOf = (c: { business_id: number; account_sid: string | null }): Promise<TelephonyProvider> =>
    deps.accounts ? deps.accounts.providerFor(c.business_id, c.account_sid) : Promise.resolve(deps.provider);

  async function reconcileUnconfirmed(): Promise<number> {
    const { rows } = await pool.query<{ id: number; business_id: number; to_number: string; from_number: string; account_sid: string | null; created_at: Date }>(
      `UPDATE calls SET checked_at = now()
        WHERE id IN (SELECT id FROM calls
                      WHERE status = 'dialing' AND call_sid IS NULL
                        AND created_at < now() - make_interval(secs => $1::float8 / 1000)
                        AND checked_at < now() - make_interval(secs => $1::float8 / 2000)
                      ORDER BY checked_at LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING id, business_id, to_number, from_number, account_sid, created_at`,
      [config.unconfirmedAfterMs, SWEEP_BATCH],
    );
    for (const c of rows) {
      try {
        const provider = await providerOf(c);
        const found = await provider.findCalls({ to: c.to_number, from: c.from_number, startedAfter: new Date(Math.floor(c.created_at.getTime() / 1000) * 1000 - 2000) });
        const { rows: known } = await pool.query<{ call_sid: string }>(
          `SELECT call_sid FROM calls WHERE business_id = $1 AND call_sid = ANY($2::text[])`,
          [c.business_id, found.map((f) => f.sid)],
        );
        const knownSids = new Set(known.map((k) => k.call_sid));
        const mine = found.find((f) => !knownSids.has(f.sid));
        if (mine) {
          await applyProviderState(pool, c.business_id, c.id, { status: mine.status, sid: mine.sid, durationS: mine.durationS });
          log.info({ businessId: c.business_id, callId: c.id, sid: mine.sid }, 'unconfirmed call found at the provider; adopted');
        } else {
          await applyProviderState(pool, c.business_id, c.id, { status: 'failed', error: 'not placed: the provider has no record of this call' });
          log.warn({ businessId: c.business_id, callId: c.id }, 'unconfirmed call unknown to the provider; marked failed, not redialled');
        }
      } catch (err) {
        log.warn({ err, callId: c.id }, 'sweeper: could not reconcile an unconfirmed call');
      }
    }
    return rows.length;
  }

  async function checkStale(): Promise<number> {
    const { rows } = await pool.query<{ id: number; business_id: number; call_sid: string; account_sid: string | null; age_s: number; max_call_s: number | null }>(
      `UPDATE calls c SET checked_at = now()
         FROM (SELECT id FROM calls
                WHERE status IN ${ACTIVE_SQL} AND call_sid IS NOT NULL
                  AND checked_at < now() - make_interval(secs => $1::float8 / 1000)
                ORDER BY checked_at LIMIT $2 FOR UPDATE SKIP LOCKED) due
        WHERE c.id = due.id
        RETURNING c.id, c.business_id, c.call_sid, c.account_sid,
                  extract(epoch FROM now() - coalesce(c.answered_at, c.created_at))::float8 AS age_s,
                  (SELECT max_call_s FROM dialer_settings s WHERE s.business_id = c.business_id) AS max_call_s`,
      [config.checkAfterMs, SWEEP_BATCH],
    );
    for (const c of rows) {
      try {
        const provider = await providerOf(c);
        let remote = await provider.fetchCall(c.call_sid);
        if (remote && isActiveCall(remote.status) && c.age_s > (c.max_call_s ?? config.maxCallS) + MAX_DURATION_GRACE_S) {
          log.warn({ businessId: c.business_id, callId: c.id }, 'call past its maximum duration; hanging up');
          remote = await provider.endCall(c.call_sid);
        }
        if (!remote) {
          await applyProviderState(pool, c.business_id, c.id, { status: 'failed', error: 'the provider has no record of this call' });
        } else if (!isActiveCall(remote.status)) {
          await applyProviderState(pool, c.business_id, c.id, { status: remote.status, durationS: remote.durationS, sid: remote.sid });
          log.info({ businessId: c.business_id, callId: c.id, status: remote.status }, 'final status taken from the provider (callback missing)');
        } else {
          await applyProviderState(pool, c.business_id, c.id, { status: remote.status, sid: remote.sid });
        }
      } catch (err) {
        log.warn({ err, callId: c.id }, 'sweeper: could not check a call');
      }
    }
    return rows.length;
  }

  async function cancelStoppedRuns(): Promise<number> {
    const { rows } = await pool.query<{ business_id: number; run_id: number }>(
      `SELECT DISTINCT r.business_id, r.id AS run_id
         FROM run_items i
         JOIN outbound_runs r ON r.id = i.run_id
         ${jobJoin('j', 'r.job_id')}
        WHERE i.status = 'queued' AND ${stoppedJobSql('j')}
        LIMIT $1`,
      [SWEEP_BATCH],
    );
    let n = 0;
    for (const r of rows) n += await cancelQueuedItems(pool, r.business_id, r.run_id);
    return n;
  }

  async function fillDue(): Promise<number> {
    // Only businesses with a free slot: the others are refilled when a call of theirs ends.
    const { rows } = await pool.query<{ business_id: number }>(
      `SELECT b.id AS business_id
         FROM businesses b
        WHERE b.id IN (SELECT DISTINCT i.business_id
                         FROM run_items i
                         JOIN outbound_runs r ON r.id = i.run_id
                         ${jobJoin('j', 'r.job_id')}
                        WHERE i.status = 'queued' AND i.next_attempt_at <= now()
                          AND ${runnableJobSql('j')})
          AND (SELECT count(*) FROM calls c WHERE c.business_id = b.id AND c.status IN ${ACTIVE_SQL}) < b.max_outbound_calls
        LIMIT 5000`,
    );
    for (const r of rows) deps.requestFill(r.business_id);
    return rows.length;
  }

  return {
    async sweep(): Promise<{ unconfirmed: number; stale: number; cancelled: number; due: number }> {
      const unconfirmed = await reconcileUnconfirmed();
      const stale = await checkStale();
      const cancelled = await cancelStoppedRuns();
      const due = await fillDue();
      return { unconfirmed, stale, cancelled, due };
    },
  };
}

export type Sweeper = ReturnType<typeof createSweeper>;
