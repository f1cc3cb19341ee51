import type { RouteOptions } from 'fastify';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Every body is small (a lead, a note, settings), except where a request carries a list: the
 * limit of a route is what its largest valid body needs, with room, so a 16 MiB body meant to
 * stall the process is refused by its Content-Length before a byte of it is read.
 */
export const DEFAULT_BODY_LIMIT = 256 * KiB;

/** A `lead_ids` list of 100 000 ids is ~0.8 MiB. */
const LEAD_ID_LIST = 2 * MiB;

const ROUTE_BODY_LIMITS: Record<string, number> = {
  // 100 000 rows of JSON or CSV are ~8 MiB.
  'POST /api/v1/leads/import': 16 * MiB,
  'POST /api/v1/leads/bulk-delete': LEAD_ID_LIST,
  'POST /api/v1/leads/bulk-update': LEAD_ID_LIST,
  'POST /api/v1/leads/imported/bulk-delete': LEAD_ID_LIST,
  'POST /api/v1/outbound/runs': LEAD_ID_LIST,
  'POST /api/v1/calls/transcribe': LEAD_ID_LIST,
  // 100 000 recipients of {phone, lead_id} are ~5 MiB.
  'POST /api/v1/whatsapp/broadcasts': 8 * MiB,
};

/** The body limit a route gets unless it set its own (webhooks set theirs in their parsers). */
export function routeBodyLimit(method: string, url: string): number | undefined {
  return ROUTE_BODY_LIMITS[`${method} ${url}`];
}

/** An onRoute hook: the table above applied to the routes it names. */
export function applyBodyLimits(route: RouteOptions): void {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  for (const method of methods) {
    const limit = routeBodyLimit(method, route.url);
    if (limit !== undefined) route.bodyLimit ??= limit;
  }
}
