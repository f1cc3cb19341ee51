import type { DomainModule, ModuleDeps, ModuleRoles } from '../app/module.js';
import { PeriodicTask } from '../lib/periodic-task.js';
import { GRAPH_API_BASE, createCloudApiClient } from '../providers/whatsapp/cloud-api.js';
import { WhatsAppSimulator } from '../providers/whatsapp/simulator.js';
import type { WhatsAppProvider } from '../providers/whatsapp/types.js';
import { broadcastJob } from './broadcast.job.js';
import { broadcastRoutes } from './broadcasts.routes.js';
import { applyMatchedPendingStatuses, prunePendingStatuses } from './delivery.repo.js';
import { whatsappWebhooks } from './webhooks.routes.js';

export interface BroadcastsModule extends DomainModule {
  /** The in-process simulator, when this process started one (worker role, no real API, no WHATSAPP_API_BASE). */
  simulator(): WhatsAppSimulator | null;
  start(roles: ModuleRoles): Promise<void>;
  stop(opts?: { timeoutMs?: number }): Promise<void>;
}

const PRUNE_EVERY_MS = 60 * 60_000;
const PENDING_SWEEP_MS = 5_000;

/**
 * WhatsApp broadcasts, pacing, delivery webhooks and opt-outs. The provider is the Cloud API
 * adapter pointed at graph.facebook.com (real credentials), at WHATSAPP_API_BASE (a simulator
 * elsewhere), or at a simulator this process starts when it runs jobs and neither is set.
 */
export function createBroadcastsModule(deps: ModuleDeps): BroadcastsModule {
  const wa = deps.config.whatsapp;
  const clientFor = (apiBase: string): WhatsAppProvider =>
    createCloudApiClient({ apiBase, apiVersion: wa.apiVersion, phoneNumberId: wa.phoneNumberId, token: wa.token });
  const external = wa.real ? (wa.apiBase ?? GRAPH_API_BASE) : wa.apiBase;
  let provider: WhatsAppProvider | null = external ? clientFor(external) : null;
  let sim: WhatsAppSimulator | null = null;
  const log = deps.log.child({ part: 'broadcasts' });
  const tasks = [
    new PeriodicTask({ name: 'pruning parked WhatsApp statuses', everyMs: PRUNE_EVERY_MS, log, run: () => prunePendingStatuses(deps.pool) }),
    new PeriodicTask({ name: 'applying parked WhatsApp statuses', everyMs: PENDING_SWEEP_MS, log, run: () => applyMatchedPendingStatuses(deps.pool) }),
  ];
  function requireProvider(): WhatsAppProvider {
    if (!provider) throw new Error('the broadcasts module is not started in the worker role');
    return provider;
  }

  return {
    name: 'broadcasts',
    jobs: [broadcastJob({ pool: deps.pool, provider: requireProvider, mps: wa.mps })],
    routes: broadcastRoutes({ pool: deps.pool, accept: deps.accept, phoneNumberId: wa.phoneNumberId }),
    webhooks: whatsappWebhooks({ pool: deps.pool, appSecret: wa.appSecret, verifyToken: wa.verifyToken, log }),
    simulator: () => sim,
    async start(roles: ModuleRoles) {
      if (!roles.worker) return;
      if (!provider) {
        sim = new WhatsAppSimulator({
          appSecret: wa.appSecret,
          token: wa.token,
          mps: deps.config.sim.whatsappMps,
          webhookUrl: () => `${deps.publicBaseUrl()}/webhooks/whatsapp`,
          log: log.child({ part: 'whatsapp-simulator' }),
        });
        provider = clientFor(await sim.start());
      }
      for (const t of tasks) t.start();
    },
    async stop(opts) {
      await Promise.all(tasks.map((t) => t.stop(opts)));
      await sim?.stop();
    },
  };
}
