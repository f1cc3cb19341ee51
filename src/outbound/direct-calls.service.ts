import type pg from 'pg';
import { NotFoundError, UnprocessableError } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import { getCalls, type CallRow } from './calls.repo.js';
import type { Dialer } from './dialer.js';
import { dncPhones } from './dnc.repo.js';

/**
 * POST /outbound/calls: 1–3 leads dialled now against the business's slots. Every lead must be
 * the business's (else 404, like any other resource) and not on its do-not-call list (422); the
 * claim is all-or-nothing (429 concurrency_limit). Answers with the calls as recorded once the
 * provider answered (sid set), or still 'dialing' when its answer was unclear.
 */
export async function placeDirectCalls(pool: pg.Pool, dialer: Dialer, businessId: number, leadIds: number[]): Promise<CallRow[]> {
  const ids = [...new Set(leadIds)];
  const { rows: leads } = await pool.query<{ id: number; phone: string }>(
    `SELECT id, phone FROM leads WHERE business_id = $1 AND id = ANY($2::bigint[]) ORDER BY id`,
    [businessId, ids],
  );
  const missing = ids.filter((id) => !leads.some((l) => l.id === id));
  if (missing.length > 0) throw new NotFoundError(msg('leads.not_found', { ids: missing }));
  const blocked = await dncPhones(pool, businessId, leads.map((l) => l.phone));
  if (blocked.size > 0) {
    const which = leads.filter((l) => blocked.has(l.phone)).map((l) => l.id);
    throw new UnprocessableError('do_not_call', msg('outbound.do_not_call', { ids: which }), { lead_ids: which });
  }
  const calls = await dialer.dialDirect(businessId, leads);
  return getCalls(pool, businessId, calls.map((c) => c.id));
}
