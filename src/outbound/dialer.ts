import type pg from 'pg';
import type { DialerConfig } from '../config/config.js';
import type { Logger } from '../lib/logger.js';
import type { TelephonyProvider } from '../providers/telephony/types.js';
import { createTelephonyAccounts, type TelephonyAccounts } from './accounts.js';
import type { CallRow } from './calls.repo.js';
import { claimDirectCalls, claimRunItems } from './claim.js';
import { createCpsLimiter, MAIN_ACCOUNT, type CpsLimiter } from './cps.js';
import { createDialerPeers, type DialerPeers } from './dialer-peers.js';
import { FillScheduler, type FillLock, type FillStep } from './fill-scheduler.js';
import { createCallPlacer } from './place-call.js';
import { getSettings } from './settings.repo.js';

export interface DialerDeps {
  pool: pg.Pool;
  databaseUrl: string;
  /** The deployment's account (used for every call when `accounts` is not given). */
  provider: TelephonyProvider;
  /** The deployment's and the businesses' own accounts (outbound module); absent: `provider` only. */
  accounts?: TelephonyAccounts;
  config: DialerConfig;
  /** Calls per second of each account (TWILIO_CPS). */
  cps: number;
  /** TWILIO_FROM: the number of a business without caller ids of its own. */
  from: string;
  log: Logger;
  publicBaseUrl(): string;
}

/** How far ahead of the CPS budget calls may be claimed (they wait at most this long to dial). */
const CPS_LOOKAHEAD_MS = 1_000;

export interface Dialer {
  /**
   * Fill this business's free slots soon (coalesced; used by NOTIFY, run jobs and the sweeper).
   * `lock`: what to do when the slot lock is taken, `must` (the default: try again shortly) or
   * `try` (give up); see FillScheduler.request.
   */
  requestFill(businessId: number, lock?: FillLock): void;
  /** Claims and dials direct calls: all get a slot or none (429 concurrency_limit). */
  dialDirect(businessId: number, leads: Array<{ id: number; phone: string }>): Promise<CallRow[]>;
  readonly provider: TelephonyProvider;
  readonly cps: CpsLimiter;
  /** The listening dialers' sessions as this dialer last saw them (it owns its share of businesses among them). */
  readonly peers: readonly number[];
  /** listen: react to NOTIFY (worker role); the API role only dials direct calls. */
  start(opts: { listen: boolean }): Promise<void>;
  /**
   * Idempotent. Starts no fill any more; the fills and dials in flight finish (their outcomes are
   * recorded) within timeoutMs (default: the create-call timeout), else are left to the sweeper.
   */
  stop(opts?: { timeoutMs?: number }): Promise<void>;
}

/**
 * The slot filler, in three parts: the fill scheduler decides when to fill which business
 * (fill-scheduler.ts), each fill's round claims run items in a transaction per business
 * (claim.ts) and hands the calls to the placer, which dials each outside any transaction at its
 * CPS turn (place-call.ts); the peers (dialer-peers.ts) route the NOTIFYs this dialer owns to the
 * scheduler. A status callback that frees a slot NOTIFYs `bulkhead_dialer` with the business id
 * in the same transaction, and the dialer that owns the business refills it at once; the run's
 * job (woken by the same statement) and the sweeper (sweeper.ts) are the safety nets.
 */
export function createDialer(deps: DialerDeps): Dialer {
  const { pool, provider, config, log } = deps;
  const accounts = deps.accounts ?? createTelephonyAccounts({ mainSid: MAIN_ACCOUNT, mainToken: '', main: provider, channels: null, providerOf: () => provider });
  // One CPS budget per account: the deployment's is keyed by its sid, each subaccount by its own.
  const cps = createCpsLimiter(pool, deps.cps, accounts.mainSid);
  const defaults = { callingHours: config.callingHours, maxCallS: config.maxCallS };
  const place = createCallPlacer({
    pool,
    provider,
    providerFor: (call) => accounts.providerFor(call.business_id, call.account_sid),
    createTimeoutMs: config.createTimeoutMs,
    log,
    publicBaseUrl: deps.publicBaseUrl,
  });
  const dials = new Set<Promise<void>>();
  const scheduler = new FillScheduler({
    step: claimRound,
    cps: deps.cps,
    onError: (err, businessId) => log.warn({ err, businessId }, 'dialer: fill failed; the sweeper retries'),
  });
  let peers: DialerPeers | null = null;
  let stopping: Promise<void> | null = null;

  /** One claim of the business's free slots; its calls are dialled at their CPS turns without waiting for them. */
  async function claimRound(businessId: number): Promise<FillStep> {
    const outcome = await claimRunItems(pool, businessId, { from: deps.from, defaults, cps: deps.cps, cpsLookaheadMs: CPS_LOOKAHEAD_MS, mainAccount: cps.mainAccount });
    if (outcome.kind === 'locked') return { kind: 'locked' };
    if (outcome.kind === 'cps_busy') return { kind: 'cps_busy', retryInMs: outcome.retryInMs };
    if (outcome.kind !== 'claimed') return { kind: 'done' };
    // A crash between the claim's commit and this reservation leaves the calls 'dialing' with
    // no request sent: the sweeper reconciles them ("not placed"), as for any crash there.
    // The calls of one claim are one business's, placed through one account.
    const delays = await cps.reserve(outcome.calls.length, outcome.calls[0]?.account_sid ?? accounts.mainSid);
    outcome.calls.forEach((call, i) => void track(place(call, { delayMs: delays[i] ?? 0, maxCallS: outcome.maxCallS })));
    return { kind: 'claimed', more: outcome.more };
  }

  function track(dial: Promise<void>): Promise<void> {
    dials.add(dial);
    void dial.finally(() => dials.delete(dial));
    return dial;
  }

  async function dialDirect(businessId: number, leads: Array<{ id: number; phone: string }>): Promise<CallRow[]> {
    const calls = await claimDirectCalls(pool, businessId, leads, deps.from);
    const delays = await cps.reserve(calls.length, calls[0]?.account_sid ?? accounts.mainSid);
    const maxCallS = (await getSettings(pool, businessId, defaults))?.maxCallS ?? config.maxCallS;
    await Promise.all(calls.map((c, i) => track(place(c, { delayMs: delays[i] ?? 0, maxCallS }))));
    return calls;
  }

  /**
   * Nothing new starts; the fills in flight end their round and the dials in flight record their
   * outcomes, so calls already claimed are dialled now rather than reconciled by the sweeper later.
   */
  async function drain(timeoutMs: number): Promise<void> {
    const fills = scheduler.stop();
    await peers?.stop({ timeoutMs });
    await fills;
    await Promise.allSettled([...dials]);
  }

  return {
    requestFill: (businessId, lock) => scheduler.request(businessId, lock),
    dialDirect,
    provider,
    cps,
    get peers() {
      return peers?.peers ?? [];
    },
    async start(opts) {
      if (!opts.listen || peers || stopping) return;
      peers = createDialerPeers({ pool, databaseUrl: deps.databaseUrl, log, onNotify: (businessId, lock) => scheduler.request(businessId, lock) });
      await peers.start();
    },
    stop({ timeoutMs = config.createTimeoutMs } = {}) {
      stopping ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => {
          timer = setTimeout(() => resolve('late'), timeoutMs);
          timer.unref();
        });
        const drained = drain(timeoutMs).then(
          () => 'done' as const,
          (err: unknown) => log.warn({ err }, 'dialer: stop failed'),
        );
        const outcome = await Promise.race([drained, late]);
        clearTimeout(timer);
        if (outcome === 'late') log.warn({ timeoutMs, dials: dials.size }, 'dialer: dials still in flight at stop; left to the sweeper');
      })();
      return stopping;
    },
  };
}
