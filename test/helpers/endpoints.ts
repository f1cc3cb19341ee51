import type { RouteOptions } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { createAppMetrics } from '../../src/http/metrics.js';
import type { TestEnv } from './harness.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Endpoint {
  method: Method;
  /** The route as Fastify reports it: `/api/v1/leads/:id/notes`. */
  url: string;
  auth: 'none' | 'admin' | 'tenant';
  /**
   * What the route's one path parameter (`:id`, `:call_sid`, `:phone`) names on a tenant route;
   * the isolation tests probe each of these with another business's.
   */
  owns?: 'lead' | 'job' | 'import' | 'run' | 'call' | 'broadcast' | 'dnc' | 'user' | 'token' | 'receipt';
}

/**
 * Every route of the app except the /docs UI. Tests that must cover each route compare this
 * table with what Fastify registered (`collectRoutes`), so a new route fails them until it is
 * added here and given its cases.
 */
export const ENDPOINTS: readonly Endpoint[] = [
  { method: 'GET', url: '/healthz', auth: 'none' },
  { method: 'GET', url: '/readyz', auth: 'none' },
  { method: 'GET', url: '/metrics', auth: 'none' },
  // The dashboard's fixed files (src/web/dashboard.routes.ts): no input, no bearer; covered like any route.
  { method: 'GET', url: '/', auth: 'none' },
  { method: 'GET', url: '/assets/app.js', auth: 'none' },
  { method: 'GET', url: '/assets/app.css', auth: 'none' },

  { method: 'POST', url: '/api/v1/admin/businesses', auth: 'admin' },
  { method: 'PATCH', url: '/api/v1/admin/businesses/:id', auth: 'admin' },
  { method: 'POST', url: '/api/v1/admin/businesses/:id/users', auth: 'admin' },

  // People. Sign-in, its token and accepting an invite come before any session or token (need('public'): no bearer, so
  // 'none'); the rest take a bearer or the session cookie.
  { method: 'POST', url: '/api/v1/auth/login', auth: 'none' },
  { method: 'POST', url: '/api/v1/auth/token', auth: 'none' },
  { method: 'POST', url: '/api/v1/auth/logout', auth: 'tenant' },
  { method: 'POST', url: '/api/v1/auth/accept-invite', auth: 'none' },
  { method: 'GET', url: '/api/v1/me', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/users', auth: 'tenant' },
  { method: 'POST', url: '/api/v1/users', auth: 'tenant' },
  { method: 'PATCH', url: '/api/v1/users/:id', auth: 'tenant', owns: 'user' },
  { method: 'GET', url: '/api/v1/tokens', auth: 'tenant' },
  { method: 'POST', url: '/api/v1/tokens', auth: 'tenant' },
  { method: 'DELETE', url: '/api/v1/tokens/:id', auth: 'tenant', owns: 'token' },
  { method: 'GET', url: '/api/v1/audit', auth: 'tenant' },

  { method: 'GET', url: '/api/v1/jobs', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/jobs/:id', auth: 'tenant', owns: 'job' },
  { method: 'POST', url: '/api/v1/jobs/:id/pause', auth: 'tenant', owns: 'job' },
  { method: 'POST', url: '/api/v1/jobs/:id/resume', auth: 'tenant', owns: 'job' },
  { method: 'POST', url: '/api/v1/jobs/:id/cancel', auth: 'tenant', owns: 'job' },
  { method: 'GET', url: '/api/v1/jobs/:id/events', auth: 'tenant', owns: 'job' },

  { method: 'POST', url: '/api/v1/leads', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/leads', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/leads/:id', auth: 'tenant', owns: 'lead' },
  { method: 'POST', url: '/api/v1/leads/:id/notes', auth: 'tenant', owns: 'lead' },
  { method: 'POST', url: '/api/v1/leads/:id/activities', auth: 'tenant', owns: 'lead' },
  { method: 'POST', url: '/api/v1/leads/:id/reminders', auth: 'tenant', owns: 'lead' },
  { method: 'POST', url: '/api/v1/leads/import', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/imports/:id', auth: 'tenant', owns: 'import' },
  { method: 'POST', url: '/api/v1/leads/bulk-delete', auth: 'tenant' },
  { method: 'POST', url: '/api/v1/leads/bulk-update', auth: 'tenant' },
  { method: 'POST', url: '/api/v1/leads/imported/bulk-delete', auth: 'tenant' },

  // Trash
  { method: 'GET', url: '/api/v1/trash/leads', auth: 'tenant' },
  { method: 'POST', url: '/api/v1/trash/restore', auth: 'tenant' },

  { method: 'POST', url: '/api/v1/receipts', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/receipts', auth: 'tenant' },
  { method: 'DELETE', url: '/api/v1/receipts', auth: 'tenant' },
  // Receipts from Gmail (issue 17); the OAuth callback is public: its state is the credential.
  { method: 'POST', url: '/api/v1/receipts/sync', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/receipts/:id/attachment', auth: 'tenant', owns: 'receipt' },
  { method: 'POST', url: '/api/v1/integrations/gmail/connect', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/integrations/gmail', auth: 'tenant' },
  { method: 'DELETE', url: '/api/v1/integrations/gmail', auth: 'tenant' },
  { method: 'GET', url: '/oauth/google/callback', auth: 'none' },

  { method: 'GET', url: '/api/v1/outbound/active', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/outbound/settings', auth: 'tenant' },
  { method: 'PATCH', url: '/api/v1/outbound/settings', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/outbound/dnc', auth: 'tenant' },
  { method: 'POST', url: '/api/v1/outbound/dnc', auth: 'tenant' },
  { method: 'DELETE', url: '/api/v1/outbound/dnc/:phone', auth: 'tenant', owns: 'dnc' },
  { method: 'POST', url: '/api/v1/outbound/runs', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/outbound/runs', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/outbound/runs/:id', auth: 'tenant', owns: 'run' },
  { method: 'GET', url: '/api/v1/outbound/runs/:id/items', auth: 'tenant', owns: 'run' },
  { method: 'POST', url: '/api/v1/outbound/calls', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/calls', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/calls/:call_sid', auth: 'tenant', owns: 'call' },
  { method: 'GET', url: '/api/v1/calls/:call_sid/recording', auth: 'tenant', owns: 'call' },
  // Transcripts (issue 16).
  { method: 'GET', url: '/api/v1/calls/:call_sid/transcript', auth: 'tenant', owns: 'call' },
  { method: 'POST', url: '/api/v1/calls/transcribe', auth: 'tenant' },

  { method: 'POST', url: '/api/v1/whatsapp/broadcasts', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/whatsapp/broadcasts', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/whatsapp/broadcasts/:id', auth: 'tenant', owns: 'broadcast' },
  { method: 'GET', url: '/api/v1/whatsapp/broadcasts/:id/recipients', auth: 'tenant', owns: 'broadcast' },
  { method: 'POST', url: '/api/v1/whatsapp/opt-outs', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/whatsapp/opt-outs', auth: 'tenant' },

  // Provider webhooks: no bearer; verified by signature (403 when forged or missing).
  { method: 'POST', url: '/webhooks/twilio/voice/status', auth: 'none' },
  { method: 'POST', url: '/webhooks/twilio/voice/recording', auth: 'none' },
  { method: 'POST', url: '/webhooks/twilio/voice/answer', auth: 'none' },
  { method: 'POST', url: '/webhooks/twilio/voice/gather', auth: 'none' },
  { method: 'POST', url: '/webhooks/twilio/voice/amd', auth: 'none' },
  { method: 'POST', url: '/webhooks/twilio/voice/dial-status', auth: 'none' },
  { method: 'GET', url: '/webhooks/whatsapp', auth: 'none' },
  { method: 'POST', url: '/webhooks/whatsapp', auth: 'none' },

  // Channels (issue 14): the business's caller ids, Twilio subaccount and WhatsApp sender.
  { method: 'GET', url: '/api/v1/channels/voice', auth: 'tenant' },
  { method: 'PUT', url: '/api/v1/channels/voice', auth: 'tenant' },
  { method: 'GET', url: '/api/v1/channels/whatsapp', auth: 'tenant' },
  { method: 'PUT', url: '/api/v1/channels/whatsapp', auth: 'tenant' },

  // The caller's own business (issue 14): its country, time zone and language.
  { method: 'GET', url: '/api/v1/business', auth: 'tenant' },
  { method: 'PATCH', url: '/api/v1/business', auth: 'tenant' },
];

export const endpointKey = (e: { method: string; url: string }): string => `${e.method} ${e.url}`;

export function endpoint(method: Method, url: string): Endpoint {
  const found = ENDPOINTS.find((e) => e.method === method && e.url === url);
  if (!found) throw new Error(`no endpoint ${method} ${url} in ENDPOINTS`);
  return found;
}

const PARAM = /:[a-z_]+/;

/** The name of the route's path parameter (`id`, `call_sid`, `phone`), if it has one. */
export function paramOf(e: Endpoint): string | undefined {
  return PARAM.exec(e.url)?.[0].slice(1);
}

/** `/api/v1/leads/:id/notes` with id 7 → `/api/v1/leads/7/notes`; `id` is inserted as given (already encoded). */
export function pathOf(e: Endpoint, id?: string | number): string {
  if (!PARAM.test(e.url)) return e.url;
  if (id === undefined) throw new Error(`${endpointKey(e)} needs an id`);
  return e.url.replace(PARAM, String(id));
}

export interface RegisteredRoute {
  method: string;
  url: string;
  schema: RouteOptions['schema'];
}

/**
 * The routes the app registers, with their schemas, seen through Fastify's onRoute hook on a
 * second app built from the same parts (HEAD twins and the /docs UI left out).
 */
export async function collectRoutes(env: TestEnv): Promise<Map<string, RegisteredRoute>> {
  const routes = new Map<string, RegisteredRoute>();
  const app = await buildApp({
    pool: env.pool,
    config: env.config,
    log: env.log,
    metrics: createAppMetrics(env.pool),
    jobEvents: null,
    modules: env.modules,
    onRoute: (route) => {
      for (const method of [route.method].flat()) {
        if (method === 'HEAD' || route.url === '/docs' || route.url.startsWith('/docs/')) continue;
        routes.set(endpointKey({ method, url: route.url }), { method, url: route.url, schema: route.schema });
      }
    },
  });
  await app.close();
  return routes;
}
