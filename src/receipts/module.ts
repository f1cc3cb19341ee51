import type { DomainModule, ModuleDeps, ModuleRoles } from '../app/module.js';
import { loadSecretBox } from '../channels/secrets-key.js';
import { PeriodicTask } from '../lib/periodic-task.js';
import type { SecretBox } from '../lib/secret-box.js';
import type { GoogleSettings } from '../providers/google/google.js';
import { GoogleSimulator, SIM_GOOGLE_CLIENT_ID, SIM_GOOGLE_CLIENT_SECRET } from '../providers/google/simulator.js';
import { deleteReceiptsJob } from './delete-receipts.job.js';
import { gmailPages, gmailRoutes } from './gmail.routes.js';
import { enqueueDueSyncs, type GmailDeps } from './gmail.service.js';
import { receiptRoutes } from './receipts.routes.js';
import { syncGmailJob } from './sync-gmail.job.js';

export interface ReceiptsModule extends DomainModule {
  /** The in-process Google simulator, when this process runs one (no GOOGLE_CLIENT_ID). */
  simulator(): GoogleSimulator | null;
  /** Queues the periodic syncs that are due now (what the scheduler does every tick). */
  syncDue(): Promise<number>;
  start(roles: ModuleRoles): Promise<void>;
  stop(opts?: { timeoutMs?: number }): Promise<void>;
}

export function isReceiptsModule(m: DomainModule): m is ReceiptsModule {
  return m.name === 'receipts';
}

/**
 * Receipts: typed in by hand, or synced from the business's Gmail mailbox (sync_gmail_receipts,
 * asked through the API and every GMAIL_SYNC_EVERY_MS), listed, deleted all at once by a gated
 * job. Google is real with GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET; otherwise this process runs
 * the Google simulator, reached through the same official clients.
 */
export function createReceiptsModule(deps: ModuleDeps): ReceiptsModule {
  const cfg = deps.config.gmail;
  const log = deps.log.child({ part: 'receipts' });
  let box: SecretBox | null = null;
  let sim: GoogleSimulator | null = null;
  const requireBox = (): SecretBox => {
    if (!box) throw new Error('the receipts module is not started (SECRETS_KEY not loaded yet)');
    return box;
  };
  const google = (): GoogleSettings => {
    const redirectUri = `${deps.publicBaseUrl()}/oauth/google/callback`;
    if (cfg.real) return { clientId: cfg.clientId ?? '', clientSecret: cfg.clientSecret ?? '', redirectUri };
    if (!sim) throw new Error('the receipts module is not started (no Google simulator yet)');
    return { clientId: SIM_GOOGLE_CLIENT_ID, clientSecret: SIM_GOOGLE_CLIENT_SECRET, redirectUri, endpoints: sim.endpoints, gmailRootUrl: `${sim.url}/` };
  };
  const gmail: GmailDeps = { pool: deps.pool, accept: deps.accept, box: requireBox, google, syncEveryMs: cfg.syncEveryMs, log };
  // Often enough that a business's turn is taken close to its time, at most once a minute.
  const tickMs = Math.min(60_000, Math.max(1_000, Math.floor(cfg.syncEveryMs / 10)));
  // A turn missed by three ticks was missed by every scheduler (no worker ran): not caught up at once.
  const syncDue = () => enqueueDueSyncs(gmail, { lateAfterMs: 3 * tickMs });
  const scheduler = new PeriodicTask({ name: 'periodic Gmail receipt syncs', everyMs: tickMs, log, run: syncDue });

  return {
    name: 'receipts',
    jobs: [deleteReceiptsJob, syncGmailJob({ pool: deps.pool, box: requireBox, google, syncEveryMs: cfg.syncEveryMs })],
    routes: async (app) => {
      await app.register(receiptRoutes(deps.pool, deps.accept));
      await app.register(gmailRoutes({ ...gmail, secureCookies: deps.config.people.secureCookies }));
    },
    pages: gmailPages(gmail),
    simulator: () => sim,
    syncDue,
    async start(roles) {
      box ??= await loadSecretBox(deps.config, log);
      if (!cfg.real && !sim) {
        sim = new GoogleSimulator({ log: log.child({ part: 'google-simulator' }) });
        await sim.start();
      }
      if (roles.worker) scheduler.start();
    },
    async stop(opts) {
      await scheduler.stop(opts);
      await sim?.stop();
    },
  };
}
