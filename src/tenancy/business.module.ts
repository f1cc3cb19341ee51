import type { DomainModule, ModuleDeps } from '../app/module.js';
import { businessRoutes } from './business.routes.js';

/** The caller's own business (`/business`): its country, time zone and language. */
export function createBusinessModule(deps: ModuleDeps): DomainModule {
  return { name: 'business', routes: businessRoutes(deps.pool) };
}
