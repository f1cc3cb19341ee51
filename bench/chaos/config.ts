/**
 * Sizes of each scenario (full run, --quick, and the test's tiny run) and the environment every
 * api / worker process of a chaos run gets. Engine timings are shortened so that a bounded run
 * sees many crash recoveries; docs/RELIABILITY.md lists them next to the results.
 */
import type { FaultSizes, KillSizes, MixedSizes, RestartSizes, SoakSizes } from './scenarios.js';

export interface Sizes {
  mixed: MixedSizes;
  kill: KillSizes;
  restart: RestartSizes;
  faults: FaultSizes;
  soak: SoakSizes;
}

export const CHAOS_ENV: Record<string, string> = {
  // Load generators send from few tokens far faster than a person: the request budget (its own
  // test and bench, hostile-tenant) would turn the load into 429s.
  API_RATE_PER_S: '1000000',
  API_RATE_BURST: '1000000',
  DB_POOL_MAX: '10',
  WORKER_CONCURRENCY: '8',
  JOB_BATCH_SIZE: '500',
  JOB_BATCH_PAUSE_MS: '10',
  WORKER_HEARTBEAT_MS: '1000',
  WORKER_STALE_MS: '5000',
  WORKER_POLL_MS: '1000',
  JOB_RETRY_BASE_MS: '200',
  JOB_RETENTION_EVERY_MS: '2000',
  TWILIO_CPS: '100',
  DIALER_SWEEP_MS: '1000',
  DIALER_CHECK_AFTER_MS: '5000',
  DIALER_UNCONFIRMED_AFTER_MS: '3000',
  DIALER_CREATE_TIMEOUT_MS: '3000',
  DIALER_RUN_POLL_MS: '1000',
};

export const SIZES: { full: Sizes; quick: Sizes; test: Sizes } = {
  full: {
    mixed: { clients: 200, businesses: 200, leadsPerBusiness: 60, durationMs: 60_000, drainMs: 300_000 },
    kill: { clients: 40, durationMs: 45_000, killEveryMs: 4_000, drainMs: 300_000 },
    restart: { clients: 40, durationMs: 30_000, restartAtMs: 10_000, downMs: 2_000, drainMs: 300_000 },
    faults: { clients: 40, durationMs: 30_000, drainMs: 300_000 },
    soak: { leads: 1_000_000, businesses: 10, drainMs: 1_800_000 },
  },
  quick: {
    mixed: { clients: 50, businesses: 50, leadsPerBusiness: 40, durationMs: 15_000, drainMs: 120_000 },
    kill: { clients: 20, durationMs: 15_000, killEveryMs: 4_000, drainMs: 120_000 },
    restart: { clients: 20, durationMs: 15_000, restartAtMs: 5_000, downMs: 1_000, drainMs: 120_000 },
    faults: { clients: 20, durationMs: 12_000, drainMs: 120_000 },
    soak: { leads: 50_000, businesses: 5, drainMs: 600_000 },
  },
  test: {
    mixed: { clients: 8, businesses: 8, leadsPerBusiness: 40, durationMs: 4_000, drainMs: 40_000 },
    kill: { clients: 6, durationMs: 4_000, killEveryMs: 2_000, drainMs: 40_000 },
    restart: { clients: 6, durationMs: 4_000, restartAtMs: 1_200, downMs: 500, drainMs: 40_000 },
    faults: { clients: 6, durationMs: 3_000, drainMs: 40_000 },
    soak: { leads: 2_000, businesses: 2, drainMs: 40_000 },
  },
};
