import type pg from 'pg';
import { PgListener } from '../jobs/listener.js';
import { PeriodicTask } from '../lib/periodic-task.js';
import type { Logger } from '../lib/logger.js';
import { DIALER_CHANNEL } from './call-state.js';
import type { FillLock } from './fill-scheduler.js';
import { listSessionPids } from './peers.repo.js';
import { notifyOwner } from './slots.js';

/** The application_name of dialers' LISTEN sessions: how they find each other. */
const DIALER_APPLICATION_NAME = 'bulkhead-dialer';
const PEERS_REFRESH_MS = 2_000;

export interface DialerPeersDeps {
  pool: pg.Pool;
  databaseUrl: string;
  log: Logger;
  /** A NOTIFY this dialer acts on: `must` when it owns the business, `try` while it does not know its peers. */
  onNotify(businessId: number, lock: FillLock): void;
}

export interface DialerPeers {
  /** The listening dialers' sessions as last seen (backend pids, ascending). */
  readonly peers: readonly number[];
  /** Resolves once LISTEN is in place and the peers were looked up once. Idempotent. */
  start(): Promise<void>;
  /** Idempotent. */
  stop(opts: { timeoutMs: number }): Promise<void>;
}

/**
 * Every listening dialer hears every NOTIFY, but only one should act on it: with all of them
 * refilling, each call's end cost N claim transactions (N−1 of them finding the slot lock
 * taken or the slot filled) — work that grew with every worker process added. The listening
 * dialers find each other in pg_stat_activity by their LISTEN sessions' application_name and
 * split businesses by id modulo their number (slots.ts, notifyOwner). A dialer that dies takes
 * its session with it; until the others refresh (PEERS_REFRESH_MS) its businesses refill through
 * their runs' jobs (woken 250 ms after a call ends) — slower, never lost. When the peers are
 * unknown (the query failed, or our session is not in the list, e.g. behind a pooler) every
 * dialer acts, as before.
 */
export function createDialerPeers(deps: DialerPeersDeps): DialerPeers {
  const { pool, log } = deps;
  let peers: number[] = [];

  async function refresh(): Promise<void> {
    try {
      peers = await listSessionPids(pool, DIALER_APPLICATION_NAME);
    } catch (err) {
      peers = [];
      log.warn({ err }, 'dialer: could not list the other dialers; every dialer acts on every NOTIFY');
    }
  }

  const task = new PeriodicTask({ name: 'dialer peers', everyMs: PEERS_REFRESH_MS, log, run: refresh });
  const listener = new PgListener({
    url: deps.databaseUrl,
    channels: [DIALER_CHANNEL],
    log,
    applicationName: DIALER_APPLICATION_NAME,
    onNotify: (_channel, payload) => {
      const id = Number(payload);
      if (!Number.isSafeInteger(id) || id <= 0) return;
      const owner = notifyOwner(id, peers, listener.backendPid);
      if (owner === 'me') deps.onNotify(id, 'must');
      else if (owner === 'unknown') deps.onNotify(id, 'try');
    },
    onReconnect: () => void task.runNow(),
  });
  let started = false;
  let stopping: Promise<void> | null = null;

  return {
    get peers() {
      return peers;
    },
    async start() {
      if (started) return;
      started = true;
      await listener.start();
      await task.runNow();
      task.start();
    },
    stop({ timeoutMs }) {
      stopping ??= (async () => {
        await task.stop({ timeoutMs });
        await listener.stop();
      })();
      return stopping;
    },
  };
}
