import type { DomainModule, ModuleDeps } from './module.js';
import { createOutboundModule } from '../outbound/module.js';
import { createBroadcastsModule } from '../broadcasts/module.js';

/** Every provider-backed domain, in start order. */
export function createModules(deps: ModuleDeps): DomainModule[] {
  return [createOutboundModule(deps), createBroadcastsModule(deps)];
}
