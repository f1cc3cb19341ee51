import type pg from 'pg';
import type { DialerConfig } from '../config/config.js';
import { withTx } from '../db/pool.js';
import { PgListener } from '../jobs/listener.js';
import { maskPhone, type Logger } from '../lib/logger.js';
import { ProviderError, type TelephonyProvider } from '../providers/telephony/types.js';
import { applyInTx, applyProviderState, DIALER_CHANNEL } from './call-state.js';
import type { CallRow } from './calls.repo.js';
import { claimDirectCalls, claimRunItems, type ClaimOutcome } from './claim.js';
import { createCpsLimiter, type CpsLimiter } from './cps.js';
import { getSettings } from './settings.repo.js';

export interface DialerDeps {
  pool: pg.Pool;
  databaseUrl: string;
  provider: TelephonyProvider;
  config: DialerConfig;
  cps: number;
  from: string;
  log: Logger;
  publicBaseUrl(): string;
}

/** How far ahead of the CPS budget calls may be claimed (they wait at most this long to dial). */
const CPS_LOOKAHEAD_MS = 1_000;
/** Fills of different businesses that run at once in one process (each is one short transaction). */
const FILL_CONCURRENCY = 8;

export interface Dialer {
  /**
   * Fill this business's free slots soon (coalesced; used by NOTIFY, run jobs and the sweeper).
   * `try`: give up if another transaction holds the business's slot lock — only for NOTIFYs,
   * which every listening dialer hears (claim.ts, tryLockBusinessSlots); default `wait`.
   */
  requestFill(businessId: number, lock?: 'wait' | 'try'): void;
  /** Claims and dials direct calls: all get a slot or none (429 concurrency_limit). */
  dialDirect(businessId: number, leads: Array<{ id: number; phone: string }>): Promise<CallRow[]>;
  readonly provider: TelephonyProvider;
  readonly cps: CpsLimiter;
  /** listen: react to NOTIFY (worker role); the API role only dials direct calls. */
  start(opts: { listen: boolean }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The slot filler. Claims run items in a transaction per business (claim.ts), then dials each
 * call outside any transaction: first the call row with our id, then the provider, with
 * statusCallback carrying that id, then the provider's sid. A status callback that frees a slot
 * NOTIFYs `bulkhead_dialer` with the business id in the same transaction, and every dialer
 * process refills that business at once; the sweeper (sweeper.ts) is the safety net.
 */
export function createDialer(deps: DialerDeps): Dialer {
  const { pool, provider, config, log } = deps;
  const cps = createCpsLimiter(pool, deps.cps);
  const defaults = { callingHours: config.callingHours, maxCallS: config.maxCallS };
  const queue = new Set<number>();
  const running = new Set<number>();
  const again = new Set<number>();
  /** Businesses with a pending request that must wait for the slot lock (not a NOTIFY's `try`). */
  const mustWait = new Set<number>();
  const cpsWaiting = new Set<number>();
  const inflight = new Set<Promise<void>>();
  let cpsTimer: NodeJS.Timeout | null = null;
  let workers = 0;
  let listener: PgListener | null = null;
  let stopped = false;

  function requestFill(businessId: number, lock: 'wait' | 'try' = 'wait'): void {
    if (stopped) return;
    if (lock === 'wait') mustWait.add(businessId);
    if (running.has(businessId)) {
      again.add(businessId);
      return;
    }
    queue.add(businessId);
    pump();
  }

  function pump(): void {
    while (workers < FILL_CONCURRENCY && queue.size > 0 && !stopped) {
      const next = queue.values().next();
      if (next.done) return;
      const businessId = next.value;
      queue.delete(businessId);
      running.add(businessId);
      workers += 1;
      void fill(businessId)
        .catch((err: unknown) => log.warn({ err, businessId }, 'dialer: fill failed; the sweeper retries'))
        .finally(() => {
          workers -= 1;
          running.delete(businessId);
          if (again.delete(businessId)) queue.add(businessId);
          pump();
        });
    }
  }

  async function fill(businessId: number): Promise<void> {
    const waitForLock = mustWait.delete(businessId);
    for (let round = 0; round < 20 && !stopped; round++) {
      const outcome: ClaimOutcome = await claimRunItems(pool, businessId, {
        waitForLock,
        from: deps.from,
        defaults,
        cps: deps.cps,
        cpsLookaheadMs: CPS_LOOKAHEAD_MS,
      });
      if (outcome.kind === 'cps_busy') return waitForCps(businessId, outcome.retryInMs);
      // 'locked': another fill or a direct call holds the business's slots; it fills after (claim.ts).
      if (outcome.kind !== 'claimed') return;
      // A crash between the claim's commit and this reservation leaves the calls 'dialing' with
      // no request sent: the sweeper reconciles them ("not placed"), as for any crash there.
      const delays = await cps.reserve(outcome.calls.length);
      dialAll(outcome.calls, delays, outcome.maxCallS);
      if (!outcome.more) return;
    }
  }

  /**
   * Businesses waiting for CPS budget wake in FIFO order, a tenth of a second's budget of them per
   * wake-up (each claims at least one call) — not all at once, which would cost one refused claim
   * transaction each; the claims keep the reserved backlog near CPS_LOOKAHEAD_MS, so the budget
   * never idles while anyone waits.
   */
  function waitForCps(businessId: number, retryInMs: number): void {
    cpsWaiting.add(businessId);
    if (cpsTimer) return;
    armCpsTimer(retryInMs);
  }

  function armCpsTimer(ms: number): void {
    cpsTimer = setTimeout(() => {
      cpsTimer = null;
      let n = Math.max(1, Math.ceil(deps.cps * 0.1));
      for (const b of cpsWaiting) {
        if (n-- <= 0) break;
        cpsWaiting.delete(b);
        requestFill(b);
      }
      if (cpsWaiting.size > 0) armCpsTimer(Math.max(100, 1000 / deps.cps));
    }, Math.max(1, ms));
    cpsTimer.unref();
  }

  /** Dials each claimed call at its CPS turn, without waiting: the fill loop goes on (dials are tracked). */
  function dialAll(calls: CallRow[], delays: number[], maxCallS: number): void {
    calls.forEach((call, i) => void track(waitThenDial(call, delays[i] ?? 0, maxCallS)));
  }

  function track(p: Promise<void>): Promise<void> {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    return p;
  }

  /** Never rejects: a failure to record an outcome leaves the call for the sweeper. */
  async function waitThenDial(call: CallRow, delayMs: number, maxCallS: number): Promise<void> {
    try {
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      await dial(call, maxCallS);
    } catch (err) {
      log.warn({ err, businessId: call.business_id, callId: call.id }, 'dialer: could not record a dial outcome; the sweeper will');
    }
  }

  function callbackUrl(kind: 'status' | 'recording', call: CallRow): string {
    return `${deps.publicBaseUrl()}/webhooks/twilio/voice/${kind}?b=${call.business_id}&call_id=${call.id}`;
  }

  /** The provider half of a claim. Never retried: an unclear answer is left for reconciliation. */
  async function dial(call: CallRow, maxCallS: number): Promise<void> {
    const log2 = log.child({ businessId: call.business_id, callId: call.id, to: maskPhone(call.to_number) });
    try {
      const placed = await provider.createCall({
        to: call.to_number,
        from: call.from_number,
        statusCallback: callbackUrl('status', call),
        recordingStatusCallback: callbackUrl('recording', call),
        record: true,
        timeLimitS: maxCallS,
        timeoutMs: config.createTimeoutMs,
      });
      await applyProviderState(pool, call.business_id, call.id, { status: placed.status, sid: placed.sid });
    } catch (err) {
      const e = err instanceof ProviderError ? err : new ProviderError('unknown', err instanceof Error ? err.message : String(err));
      if (e.kind === 'unknown') {
        // The provider may have placed the call: never redial. The sweeper asks it later.
        log2.warn({ err: e.message }, 'dial outcome unknown; left for reconciliation');
        await pool
          .query(`UPDATE calls SET error = $3, updated_at = now() WHERE business_id = $1 AND id = $2 AND status = 'dialing'`, [
            call.business_id,
            call.id,
            `unconfirmed: ${e.message}`.slice(0, 500),
          ])
          .catch(() => undefined);
        return;
      }
      if (e.kind === 'throttled') {
        log2.warn('provider throttled the dial; the item goes back to the queue');
        await requeueThrottled(call);
        return;
      }
      log2.warn({ err: e.message, status: e.httpStatus }, 'provider refused the call');
      await applyProviderState(pool, call.business_id, call.id, { status: 'failed', error: `rejected: ${e.message}`.slice(0, 500) });
    }
  }

  /** 429: certainly not placed. The call row ends as failed; its item waits 2 s and is claimed anew. */
  async function requeueThrottled(call: CallRow): Promise<void> {
    await withTx(pool, async (tx) => {
      if (call.run_item_id === null) {
        await applyInTx(tx, call.business_id, call.id, { status: 'failed', error: 'throttled by the provider; not placed' });
        return;
      }
      await tx.query(`UPDATE calls SET status = 'failed', error = 'throttled by the provider; not placed', ended_at = now(), updated_at = now()
                        WHERE business_id = $1 AND id = $2 AND status = 'dialing'`, [call.business_id, call.id]);
      await tx.query(`UPDATE run_items SET status = 'queued', next_attempt_at = now() + interval '2 seconds', updated_at = now()
                        WHERE business_id = $1 AND id = $2 AND call_id = $3`, [call.business_id, call.run_item_id, call.id]);
    });
  }

  async function dialDirect(businessId: number, leads: Array<{ id: number; phone: string }>): Promise<CallRow[]> {
    const calls = await claimDirectCalls(pool, businessId, leads, deps.from);
    const delays = await cps.reserve(calls.length);
    const maxCallS = (await getSettings(pool, businessId, defaults))?.maxCallS ?? config.maxCallS;
    await Promise.all(calls.map((c, i) => track(waitThenDial(c, delays[i] ?? 0, maxCallS))));
    return calls;
  }

  return {
    requestFill,
    dialDirect,
    provider,
    cps,
    async start(opts) {
      if (!opts.listen || listener) return;
      listener = new PgListener({
        url: deps.databaseUrl,
        channels: [DIALER_CHANNEL],
        log,
        onNotify: (_channel, payload) => {
          const id = Number(payload);
          if (Number.isSafeInteger(id) && id > 0) requestFill(id, 'try');
        },
      });
      await listener.start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (cpsTimer) clearTimeout(cpsTimer);
      await listener?.stop();
      // Dials in flight finish (their outcome is recorded); nothing new starts.
      const deadline = new Promise((r) => setTimeout(r, config.createTimeoutMs).unref());
      await Promise.race([Promise.allSettled([...inflight]), deadline]);
    },
  };
}
