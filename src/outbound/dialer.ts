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
import { notifyOwner } from './slots.js';

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
/** The application_name of dialers' LISTEN sessions: how they find each other (refreshPeers). */
const DIALER_APPLICATION_NAME = 'bulkhead-dialer';
const PEERS_REFRESH_MS = 2_000;
/** A fill that found the slot lock taken tries again after 10–20 ms, up to 100 times (~1.5 s). */
const LOCKED_RETRY_MS = 10;
const LOCKED_RETRY_LIMIT = 100;

export interface Dialer {
  /**
   * Fill this business's free slots soon (coalesced; used by NOTIFY, run jobs and the sweeper).
   * Fills never wait for the business's slot lock (claim.ts). `must` (the default): when the lock
   * is taken, try again shortly; `try`: give up — only for a NOTIFY heard while this dialer does
   * not know its peers, when every listening dialer acts on it, the lock's holder included.
   */
  requestFill(businessId: number, lock?: 'must' | 'try'): void;
  /** Claims and dials direct calls: all get a slot or none (429 concurrency_limit). */
  dialDirect(businessId: number, leads: Array<{ id: number; phone: string }>): Promise<CallRow[]>;
  readonly provider: TelephonyProvider;
  readonly cps: CpsLimiter;
  /** The listening dialers' sessions as this dialer last saw them (it owns its share of businesses among them). */
  readonly peers: readonly number[];
  /** listen: react to NOTIFY (worker role); the API role only dials direct calls. */
  start(opts: { listen: boolean }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The slot filler. Claims run items in a transaction per business (claim.ts), then dials each
 * call outside any transaction: first the call row with our id, then the provider, with
 * statusCallback carrying that id, then the provider's sid. A status callback that frees a slot
 * NOTIFYs `bulkhead_dialer` with the business id in the same transaction, and the dialer that
 * owns the business (notifyOwner) refills it at once; the run's job (woken by the same statement)
 * and the sweeper (sweeper.ts) are the safety nets.
 */
export function createDialer(deps: DialerDeps): Dialer {
  const { pool, provider, config, log } = deps;
  const cps = createCpsLimiter(pool, deps.cps);
  const defaults = { callingHours: config.callingHours, maxCallS: config.maxCallS };
  const queue = new Set<number>();
  const running = new Set<number>();
  const again = new Set<number>();
  /** Businesses with a pending request that must happen (not only a NOTIFY's `try`). */
  const mustFill = new Set<number>();
  const cpsWaiting = new Set<number>();
  const lockedRetries = new Map<number, number>();
  const inflight = new Set<Promise<void>>();
  let cpsTimer: NodeJS.Timeout | null = null;
  let workers = 0;
  let listener: PgListener | null = null;
  /** Backend pids of the listening dialers' sessions, ascending (slots.ts, notifyOwner). */
  let peers: number[] = [];
  let peersTimer: NodeJS.Timeout | null = null;
  let stopped = false;

  /**
   * Every listening dialer hears every NOTIFY, but only one should act on it: with all of them
   * refilling, each call's end cost N claim transactions (N−1 of them finding the slot lock
   * taken or the slot filled) — work that grew with every worker process added. The listening
   * dialers find each other in pg_stat_activity by their LISTEN sessions' application_name and
   * split businesses by id modulo their number. A dialer that dies takes its session with it;
   * until the others refresh (PEERS_REFRESH_MS) its businesses refill through their runs' jobs
   * (woken 250 ms after a call ends) — slower, never lost. When the peers are unknown (the query
   * failed, or our session is not in the list, e.g. behind a pooler) every dialer acts, as before.
   */
  async function refreshPeers(): Promise<void> {
    try {
      const { rows } = await pool.query<{ pids: number[] }>(
        `SELECT coalesce(array_agg(pid ORDER BY pid), '{}') AS pids FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = $1`,
        [DIALER_APPLICATION_NAME],
      );
      peers = rows[0]?.pids ?? [];
    } catch (err) {
      peers = [];
      log.warn({ err }, 'dialer: could not list the other dialers; every dialer acts on every NOTIFY');
    }
  }

  function requestFill(businessId: number, lock: 'must' | 'try' = 'must'): void {
    if (stopped) return;
    if (lock === 'must') mustFill.add(businessId);
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
    const mustHappen = mustFill.delete(businessId);
    for (let round = 0; round < 20 && !stopped; round++) {
      const outcome: ClaimOutcome = await claimRunItems(pool, businessId, {
        from: deps.from,
        defaults,
        cps: deps.cps,
        cpsLookaheadMs: CPS_LOOKAHEAD_MS,
      });
      if (outcome.kind === 'locked') return mustHappen ? retryLocked(businessId) : undefined;
      lockedRetries.delete(businessId);
      if (outcome.kind === 'cps_busy') return waitForCps(businessId, outcome.retryInMs);
      if (outcome.kind !== 'claimed') return;
      // A crash between the claim's commit and this reservation leaves the calls 'dialing' with
      // no request sent: the sweeper reconciles them ("not placed"), as for any crash there.
      const delays = await cps.reserve(outcome.calls.length);
      dialAll(outcome.calls, delays, outcome.maxCallS);
      if (!outcome.more) return;
    }
  }

  /**
   * Another transaction holds the business's slot lock (another process's fill, or a direct
   * call). A `try` fill just stops — every dialer heard that NOTIFY and the holder fills after
   * (`again`) — but a fill that must happen (the owner's NOTIFY, a run's batch, the sweeper, a
   * CPS wake-up) tries again shortly. It never *waits* on the lock: a blocked claim holds a pooled connection,
   * and with 3 worker processes such waits (19–45 ms each, hundreds of them) exhausted the
   * pools and halved calls/s (docs/SCALING.md). The holder's transaction lasts a few ms; after
   * LOCKED_RETRY_LIMIT tries the sweeper and the run's poll remain.
   */
  function retryLocked(businessId: number): void {
    const tries = (lockedRetries.get(businessId) ?? 0) + 1;
    if (tries > LOCKED_RETRY_LIMIT) {
      lockedRetries.delete(businessId);
      return;
    }
    lockedRetries.set(businessId, tries);
    setTimeout(() => requestFill(businessId), LOCKED_RETRY_MS + Math.random() * LOCKED_RETRY_MS).unref();
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
    get peers() {
      return peers;
    },
    async start(opts) {
      if (!opts.listen || listener) return;
      listener = new PgListener({
        url: deps.databaseUrl,
        channels: [DIALER_CHANNEL],
        log,
        applicationName: DIALER_APPLICATION_NAME,
        onNotify: (_channel, payload) => {
          const id = Number(payload);
          if (!Number.isSafeInteger(id) || id <= 0) return;
          const owner = notifyOwner(id, peers, listener?.backendPid ?? null);
          if (owner === 'me') requestFill(id);
          else if (owner === 'unknown') requestFill(id, 'try');
        },
        onReconnect: () => void refreshPeers(),
      });
      await listener.start();
      await refreshPeers();
      peersTimer = setInterval(() => void refreshPeers(), PEERS_REFRESH_MS);
      peersTimer.unref();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (cpsTimer) clearTimeout(cpsTimer);
      if (peersTimer) clearInterval(peersTimer);
      await listener?.stop();
      // Dials in flight finish (their outcome is recorded); nothing new starts.
      const deadline = new Promise((r) => setTimeout(r, config.createTimeoutMs).unref());
      await Promise.race([Promise.allSettled([...inflight]), deadline]);
    },
  };
}
