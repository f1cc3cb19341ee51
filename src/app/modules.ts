import { createBroadcastsModule } from '../broadcasts/module.js';
import { createChannelsModule } from '../channels/module.js';
import { HandlerRegistry } from '../jobs/registry.js';
import { createLeadsModule } from '../leads/module.js';
import { createOutboundModule } from '../outbound/module.js';
import { createPeopleModule } from '../people/module.js';
import { createReceiptsModule } from '../receipts/module.js';
import { createRecordingsModule } from '../recordings/module.js';
import { createTranscriptsModule } from '../transcripts/module.js';
import { createBusinessModule } from '../tenancy/business.module.js';
import type { DomainModule, ModuleDeps } from './module.js';

/**
 * Every domain, in start order (stopped in reverse). A new domain is one line here: its module
 * file brings its jobs, routes, webhooks and background parts (README, "Adding a domain").
 */
export function createModules(deps: ModuleDeps): DomainModule[] {
  // Channels start first: their key is loaded before a dial, a send or a webhook needs a secret.
  const channels = createChannelsModule(deps);
  const outbound = createOutboundModule(deps, { channels: channels.store });
  // Recordings are fetched through the outbound module's accounts (the call's own account).
  const recordings = createRecordingsModule(deps, { telephonyFor: (businessId, accountSid) => outbound.accounts.providerFor(businessId, accountSid) });
  return [
    channels,
    createPeopleModule(deps),
    createBusinessModule(deps),
    createLeadsModule(deps),
    createReceiptsModule(deps),
    outbound,
    recordings,
    // Transcripts share the recordings cache (and its one download per call with plays).
    createTranscriptsModule(deps, { cache: recordings.cache }),
    createBroadcastsModule(deps, { channels: channels.store }),
  ];
}

/** The engine's handler registry for these modules (the engine itself knows no domain). */
export function createRegistry(modules: readonly DomainModule[]): HandlerRegistry {
  const registry = new HandlerRegistry();
  for (const m of modules) registry.register(...(m.jobs ?? []));
  return registry;
}
