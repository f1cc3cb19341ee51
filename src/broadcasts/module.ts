import type { DomainModule, ModuleDeps, ModuleRoles } from '../cli/module.js';
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
  let pruneTimer: NodeJS.Timeout | null = null;
  let sweepTimer: NodeJS.Timeout | null = null;
  const log = deps.log.child({ part: 'broadcasts' });

  return {
    name: 'broadcasts',
    handlers: [broadcastJob({ pool: deps.pool, provider: () => provider, mps: wa.mps })],
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
      pruneTimer = setInterval(() => {
        prunePendingStatuses(deps.pool).catch((err: unknown) => log.warn({ err }, 'pruning parked WhatsApp statuses failed'));
      }, PRUNE_EVERY_MS);
      pruneTimer.unref();
      sweepTimer = setInterval(() => {
        applyMatchedPendingStatuses(deps.pool).catch((err: unknown) => log.warn({ err }, 'applying parked WhatsApp statuses failed'));
      }, PENDING_SWEEP_MS);
      sweepTimer.unref();
    },
    async stop() {
      if (pruneTimer) clearInterval(pruneTimer);
      if (sweepTimer) clearInterval(sweepTimer);
      pruneTimer = null;
      sweepTimer = null;
      await sim?.stop();
    },
  };
}
