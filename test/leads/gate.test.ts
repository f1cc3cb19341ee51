import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTenant, startTestEnv, type TestEnv } from '../helpers/harness.js';
import { client, seedLeads } from './helpers.js';

// No worker: accepted jobs stay queued, so the gate's view of "active" is deterministic.
let env: TestEnv;
before(async () => {
  env = await startTestEnv({ worker: false });
});
after(() => env.close());

test('lead bulk operations go through the gate: one active job per operation, identical requests de-duplicated', async () => {
  const t = await createTenant(env);
  const api = client(env, t);
  const ids = await seedLeads(env, t, 3);

  const first = await api<{ job_id: number }>('POST', '/leads/bulk-delete', { lead_ids: ids });
  assert.equal(first.status, 202);
  const second = await api<{ error: { code: string; details: { job_id: number } } }>('POST', '/leads/bulk-delete', { lead_ids: ids.slice(0, 1) });
  assert.equal(second.status, 429);
  assert.equal(second.body.error.code, 'operation_in_progress');
  assert.equal(second.body.error.details.job_id, first.body.job_id);
  assert.ok(Number(second.headers['retry-after']) >= 1);

  // Imports take no lock, but the same file twice within seconds is one import.
  const body = { leads: [{ phone: '2125550100' }], filename: 'a.json' };
  const imp = await api<{ job_id: number }>('POST', '/leads/import', body);
  assert.equal(imp.status, 202);
  const dup = await api<{ error: { code: string; details: { job_id: number } } }>('POST', '/leads/import', body);
  assert.equal(dup.status, 429);
  assert.equal(dup.body.error.code, 'duplicate_request');
  assert.equal(dup.body.error.details.job_id, imp.body.job_id);
  const other = await api('POST', '/leads/import', { ...body, leads: [{ phone: '2125550101' }] });
  assert.equal(other.status, 202, 'another file with the same name is another import');

  const staged = await env.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM import_chunks r JOIN imports i ON i.id = r.import_id WHERE i.business_id = $1`,
    [t.businessId],
  );
  assert.equal(staged.rows[0]?.n, 2, 'a refused import stores no rows');
});
