import type { DomainModule, ModuleDeps, ModuleRoles } from '../app/module.js';
import type { ChannelStore } from '../channels/channel-store.js';
import { PermanentError } from '../lib/errors.js';
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

export interface BroadcastsModuleDeps {
  /** The businesses' own WhatsApp senders (channels module). */
  channels: ChannelStore;
}

const PRUNE_EVERY_MS = 60 * 60_000;
const PENDING_SWEEP_MS = 5_000;

/**
 * WhatsApp broadcasts, pacing, delivery webhooks and opt-outs. The provider is the Cloud API
 * adapter pointed at graph.facebook.com (real credentials), at WHATSAPP_API_BASE (a simulator
 * elsewhere), or at a simulator this process starts when it runs jobs and neither is set.
 *
 * Each business sends from its own number with its own token when it has a WhatsApp channel
 * (channels module), else from the deployment's (WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_TOKEN). The
 * sender is fixed when the broadcast is created; pacing is per number (pacing.ts), so two
 * businesses with their own numbers never share a throughput window.
 */
export function createBroadcastsModule(deps: ModuleDeps, own: BroadcastsModuleDeps): BroadcastsModule {
  const wa = deps.config.whatsapp;
  const external = wa.real ? (wa.apiBase ?? GRAPH_API_BASE) : wa.apiBase;
  let apiBase: string | null = external ?? null;
  const clientFor = (phoneNumberId: string, token: string): WhatsAppProvider => {
    if (apiBase === null) throw new Error('the broadcasts module is not started in the worker role');
    return createCloudApiClient({ apiBase, apiVersion: wa.apiVersion, phoneNumberId, token });
  };
  let sim: WhatsAppSimulator | null = null;
  const log = deps.log.child({ part: 'broadcasts' });
  const tasks = [
    new PeriodicTask({ name: 'pruning parked WhatsApp statuses', everyMs: PRUNE_EVERY_MS, log, run: () => prunePendingStatuses(deps.pool) }),
    new PeriodicTask({ name: 'applying parked WhatsApp statuses', everyMs: PENDING_SWEEP_MS, log, run: () => applyMatchedPendingStatuses(deps.pool) }),
  ];
  /** The Cloud API as `phoneNumberId`: the deployment's sender with its token, or the business's own with its own. */
  async function providerFor(businessId: number, phoneNumberId: string): Promise<WhatsAppProvider> {
    if (phoneNumberId === wa.phoneNumberId) return clientFor(wa.phoneNumberId, wa.token);
    const sender = await own.channels.whatsAppSender(businessId);
    if (sender?.phoneNumberId !== phoneNumberId) {
      throw new PermanentError(`this broadcast's sender ${phoneNumberId} is no longer the business's WhatsApp channel; nothing more is sent from it`);
    }
    return clientFor(phoneNumberId, sender.accessToken);
  }

  return {
    name: 'broadcasts',
    jobs: [broadcastJob({ pool: deps.pool, providerFor, mps: wa.mps })],
    routes: broadcastRoutes({
      pool: deps.pool,
      accept: deps.accept,
      senderOf: async (businessId) => (await own.channels.whatsAppNumber(businessId)) ?? wa.phoneNumberId,
    }),
    webhooks: whatsappWebhooks({
      pool: deps.pool,
      appSecret: wa.appSecret,
      defaultPhoneNumberId: wa.phoneNumberId,
      ownSenders: async (numbers) => new Map([...(await own.channels.whatsAppSendersByNumber(numbers))]
        .map(([n, s]) => [n, { businessId: s.businessId, appSecret: s.appSecret }])),
      verifyToken: wa.verifyToken,
      log,
    }),
    simulator: () => sim,
    async start(roles: ModuleRoles) {
      if (!roles.worker) return;
      if (apiBase === null) {
        sim = new WhatsAppSimulator({
          appSecret: wa.appSecret,
          token: wa.token,
          // What Meta knows of the businesses' own numbers: their channels, as stored.
          resolveNumber: async (phoneNumberId) => {
            if (!/^[0-9]{1,32}$/.test(phoneNumberId)) return null;
            const sender = (await own.channels.whatsAppSendersByNumber([phoneNumberId])).get(phoneNumberId);
            return sender ? { token: sender.accessToken, appSecret: sender.appSecret ?? wa.appSecret } : null;
          },
          mps: deps.config.sim.whatsappMps,
          webhookUrl: () => `${deps.publicBaseUrl()}/webhooks/whatsapp`,
          log: log.child({ part: 'whatsapp-simulator' }),
        });
        apiBase = await sim.start();
      }
      for (const t of tasks) t.start();
    },
    async stop(opts) {
      await Promise.all(tasks.map((t) => t.stop(opts)));
      await sim?.stop();
    },
  };
}
