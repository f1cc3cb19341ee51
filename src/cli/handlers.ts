import { HandlerRegistry } from '../jobs/registry.js';
import { leadJobHandlers } from '../leads/index.js';
import { receiptJobHandlers } from '../receipts/index.js';
import type { DomainModule } from './module.js';

/** Every domain's job handlers; the engine itself knows none of them. */
export function createRegistry(modules: readonly DomainModule[] = []): HandlerRegistry {
  const registry = new HandlerRegistry();
  registry.register(...leadJobHandlers, ...receiptJobHandlers);
  for (const m of modules) registry.register(...m.handlers);
  return registry;
}
