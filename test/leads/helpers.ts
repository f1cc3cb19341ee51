import type { TestEnv, Tenant } from '../helpers/harness.js';

export interface Res<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Record<string, unknown>;
}

/** A tenant's view of the API through inject: `call('POST', '/leads', body)`. */
export function client(env: TestEnv, t: Tenant) {
  return async <T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'DELETE' | 'PATCH',
    path: string,
    payload?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Res<T>> => {
    const res = await env.app.inject({
      method,
      url: `/api/v1${path}`,
      headers: { ...t.headers, ...headers },
      ...(payload === undefined ? {} : typeof payload === 'string' ? { payload } : { payload: payload as Record<string, unknown> }),
    });
    return { status: res.statusCode, body: (res.body ? res.json() : {}) as T, headers: res.headers };
  };
}

/** Lifts the per-minute gate limits so one test file can run many bulk jobs for one business. */
export async function liftRateLimits(env: TestEnv, t: Tenant): Promise<void> {
  await env.pool.query(
    `UPDATE businesses SET rate_limits = '{"delete_leads_bulk":1000,"update_leads_bulk":1000,"delete_imported_leads":1000,"import_leads":1000,"delete_receipts_all":1000}'::jsonb
      WHERE id = $1`,
    [t.businessId],
  );
}

/** Inserts `n` leads with phones +1212555xxxx directly (fast setup); returns their ids in order. */
export async function seedLeads(
  env: TestEnv,
  t: Tenant,
  n: number,
  opts: { start?: number; source?: 'manual' | 'import'; importId?: number | null; children?: boolean } = {},
): Promise<number[]> {
  const start = opts.start ?? 0;
  const { rows } = await env.pool.query<{ id: number }>(
    `INSERT INTO leads (business_id, phone, name, source, import_id)
     SELECT $1, '+1212555' || lpad((g + $3)::text, 4, '0'), 'Lead ' || (g + $3), $4, $5
       FROM generate_series(0, $2 - 1) g
     ORDER BY g
     RETURNING id`,
    [t.businessId, n, start, opts.source ?? 'manual', opts.importId ?? null],
  );
  const ids = rows.map((r) => r.id).sort((a, b) => a - b);
  if (opts.children) {
    for (const table of ['lead_notes', 'lead_activities', 'lead_reminders']) {
      const cols = table === 'lead_activities' ? `(business_id, lead_id, type, text)` : table === 'lead_reminders' ? `(business_id, lead_id, due_at, text)` : `(business_id, lead_id, text)`;
      const vals = table === 'lead_activities' ? `$1, id, 'call', 'x'` : table === 'lead_reminders' ? `$1, id, now(), 'x'` : `$1, id, 'x'`;
      await env.pool.query(`INSERT INTO ${table} ${cols} SELECT ${vals} FROM unnest($2::bigint[]) AS id`, [t.businessId, ids]);
    }
  }
  return ids;
}

/** A seeder whose phones never repeat within one test file (its counter spans every call). */
export function leadSeeder(): (env: TestEnv, t: Tenant, n: number) => Promise<number[]> {
  let seeded = 0;
  return (env, t, n) => {
    seeded += n;
    return seedLeads(env, t, n, { start: seeded - n });
  };
}

/** POST /leads/bulk-delete through inject; the job id of the 202 (anything else throws). */
export async function bulkDelete(env: TestEnv, t: Tenant, ids: number[]): Promise<number> {
  const res = await env.app.inject({ method: 'POST', url: '/api/v1/leads/bulk-delete', headers: t.headers, payload: { lead_ids: ids } });
  if (res.statusCode !== 202) throw new Error(`bulk delete: ${res.statusCode} ${res.body}`);
  return res.json<{ job_id: number }>().job_id;
}
