import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, createTenant, startTestEnv, waitForJob, type Tenant, type TestEnv } from '../helpers/harness.js';
import { client, liftRateLimits, seedLeads } from './helpers.js';

interface Accepted {
  job_id: number;
  status: string;
  import_id?: number;
}

let env: TestEnv;
let a: Tenant;
let b: Tenant;
let apiA: ReturnType<typeof client>;
let apiB: ReturnType<typeof client>;

before(async () => {
  env = await startTestEnv({ env: { JOB_BATCH_SIZE: '50' } });
  a = await createTenant(env);
  b = await createTenant(env);
  await liftRateLimits(env, a);
  await liftRateLimits(env, b);
  apiA = client(env, a);
  apiB = client(env, b);
});
after(() => env.close());

async function count(sql: string, params: unknown[]): Promise<number> {
  const { rows } = await env.pool.query<{ n: number }>(sql, params);
  return rows[0]?.n ?? -1;
}

async function accepted(res: { status: number; body: Accepted; headers: Record<string, unknown> }): Promise<Accepted> {
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.equal(res.body.status, 'queued');
  assert.equal(res.headers.location, `/api/v1/jobs/${res.body.job_id}`);
  return res.body;
}

describe('bulk delete', () => {
  test('deletes 500 leads with their children in batches; others count as failed and stay', async () => {
    const ids = await seedLeads(env, a, 500, { start: 0, children: true });
    const keepA = await seedLeads(env, a, 5, { start: 600, children: true });
    const bIds = await seedLeads(env, b, 7, { start: 0, children: true });
    const missing = [999_999_001, 999_999_002];
    const leadIds = [...ids.slice().reverse(), ...bIds, ...missing, ...ids.slice(0, 30)];

    const job = await accepted(await apiA<Accepted>('POST', '/leads/bulk-delete', { lead_ids: leadIds }, { 'idempotency-key': 'del-1' }));
    const row = await env.pool.query<{ params: unknown; targets: string[] }>(`SELECT params, targets FROM jobs WHERE id = $1`, [job.job_id]);
    assert.deepEqual(row.rows[0]?.params, { lead_count: 509 });
    assert.deepEqual(row.rows[0]?.targets.map(Number), [...ids, ...bIds, ...missing].sort((x, y) => x - y));

    const done = await waitForJob(env, job.job_id, 'completed');
    assert.deepEqual({ total: done.total, processed: done.processed, succeeded: done.succeeded, failed: done.failed }, {
      total: 509, processed: 509, succeeded: 500, failed: 9,
    });
    assert.equal(await count(`SELECT count(*)::int AS n FROM leads WHERE id = ANY($1::bigint[])`, [ids]), 0);
    for (const table of ['lead_notes', 'lead_activities', 'lead_reminders']) {
      assert.equal(await count(`SELECT count(*)::int AS n FROM ${table} WHERE lead_id = ANY($1::bigint[])`, [ids]), 0, table);
      assert.equal(await count(`SELECT count(*)::int AS n FROM ${table} WHERE lead_id = ANY($1::bigint[])`, [bIds]), 7, `${table} of B`);
      assert.equal(await count(`SELECT count(*)::int AS n FROM ${table} WHERE lead_id = ANY($1::bigint[])`, [keepA]), 5, `${table} not targeted`);
    }
    assert.equal(await count(`SELECT count(*)::int AS n FROM leads WHERE business_id = $1`, [b.businessId]), 7);

    const jobView = await apiA<{ status: string; progress: number }>('GET', `/jobs/${job.job_id}`);
    assert.equal(jobView.body.status, 'completed');
    assert.equal(jobView.body.progress, 1);

    const replay = await apiA<Accepted>('POST', '/leads/bulk-delete', { lead_ids: leadIds }, { 'idempotency-key': 'del-1' });
    assert.equal(replay.status, 202);
    assert.equal(replay.body.job_id, job.job_id);
  });

  test('bad bodies are 400', async () => {
    for (const body of [{}, { lead_ids: [] }, { lead_ids: [0] }, { lead_ids: ['1'] }, { lead_ids: [1], extra: true }]) {
      assert.equal((await apiA('POST', '/leads/bulk-delete', body)).status, 400, JSON.stringify(body));
    }
  });

  test('business B cannot delete A\'s leads: they count as failed and remain', async () => {
    const aIds = await seedLeads(env, a, 60, { start: 1000 });
    const job = await accepted(await apiB<Accepted>('POST', '/leads/bulk-delete', { lead_ids: aIds }));
    const done = await waitForJob(env, job.job_id, 'completed');
    assert.equal(done.succeeded, 0);
    assert.equal(done.failed, 60);
    assert.equal(await count(`SELECT count(*)::int AS n FROM leads WHERE id = ANY($1::bigint[])`, [aIds]), 60);
  });
});

describe('bulk update', () => {
  let second: { id: number };
  before(async () => {
    const res = await env.app.inject({
      method: 'POST',
      url: `/api/v1/admin/businesses/${a.businessId}/users`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { email: 'second@example.com' },
    });
    assert.equal(res.statusCode, 201);
    second = (res.json() as { user: { id: number } }).user;
  });

  test('sets status and owner, adds tags without repeats, removes tags', async () => {
    const ids = await seedLeads(env, a, 120, { start: 2000 });
    await env.pool.query(`UPDATE leads SET tags = ARRAY['old', 'keep'], updated_at = now() - interval '1 hour' WHERE id = ANY($1::bigint[])`, [ids]);
    const untouched = await seedLeads(env, a, 3, { start: 2500 });
    const bIds = await seedLeads(env, b, 4, { start: 2000 });
    const job = await accepted(await apiA<Accepted>('POST', '/leads/bulk-update', {
      lead_ids: [...ids, ...bIds],
      set: { status: 'contacted', owner_user_id: second.id, tags_add: ['keep', 'new', 'new'], tags_remove: ['old'] },
    }));
    const params = await env.pool.query<{ params: Record<string, unknown> }>(`SELECT params FROM jobs WHERE id = $1`, [job.job_id]);
    assert.equal(params.rows[0]?.params.lead_count, 124);
    const done = await waitForJob(env, job.job_id, 'completed');
    assert.deepEqual({ total: done.total, succeeded: done.succeeded, failed: done.failed }, { total: 124, succeeded: 120, failed: 4 });

    const { rows } = await env.pool.query<{ status: string; owner_user_id: number | null; tags: string[]; fresh: boolean }>(
      `SELECT DISTINCT status, owner_user_id, tags, updated_at > now() - interval '5 minutes' AS fresh FROM leads WHERE id = ANY($1::bigint[])`,
      [ids],
    );
    assert.deepEqual(rows, [{ status: 'contacted', owner_user_id: second.id, tags: ['keep', 'new'], fresh: true }]);
    const others = await env.pool.query<{ status: string; owner_user_id: number | null }>(
      `SELECT DISTINCT status, owner_user_id FROM leads WHERE id = ANY($1::bigint[])`,
      [[...untouched, ...bIds]],
    );
    assert.deepEqual(others.rows, [{ status: 'new', owner_user_id: null }]);

    // null unassigns; only the given field changes.
    const unassign = await accepted(await apiA<Accepted>('POST', '/leads/bulk-update', { lead_ids: ids.slice(0, 10), set: { owner_user_id: null } }));
    await waitForJob(env, unassign.job_id, 'completed');
    const after = await env.pool.query<{ status: string; owner_user_id: number | null }>(
      `SELECT DISTINCT status, owner_user_id FROM leads WHERE id = ANY($1::bigint[])`,
      [ids.slice(0, 10)],
    );
    assert.deepEqual(after.rows, [{ status: 'contacted', owner_user_id: null }]);
  });

  test('an owner outside the business or an empty set is 400 and creates no job', async () => {
    const ids = await seedLeads(env, a, 2, { start: 2600 });
    const jobsBefore = await count(`SELECT count(*)::int AS n FROM jobs WHERE business_id = $1`, [a.businessId]);
    const foreign = await apiA<{ error: { code: string; details: { issues: { path: string }[] } } }>('POST', '/leads/bulk-update', {
      lead_ids: ids,
      set: { owner_user_id: b.userId },
    });
    assert.equal(foreign.status, 400);
    assert.equal(foreign.body.error.code, 'invalid_request');
    assert.ok(foreign.body.error.details.issues.some((i) => i.path === 'body.set.owner_user_id'));
    const empty = await apiA<{ error: { details: { issues: { path: string }[] } } }>('POST', '/leads/bulk-update', { lead_ids: ids, set: {} });
    assert.equal(empty.status, 400);
    assert.ok(empty.body.error.details.issues.some((i) => i.path === 'body.set'));
    assert.equal((await apiA('POST', '/leads/bulk-update', { lead_ids: ids, set: { color: 'red' } })).status, 400);
    assert.equal((await apiA('POST', '/leads/bulk-update', { lead_ids: ids, set: { status: 'Bad Status' } })).status, 400);
    assert.equal(await count(`SELECT count(*)::int AS n FROM jobs WHERE business_id = $1`, [a.businessId]), jobsBefore);
  });

  test('business B cannot update A\'s leads: they count as failed and stay as they were', async () => {
    const aIds = await seedLeads(env, a, 30, { start: 2700 });
    const job = await accepted(await apiB<Accepted>('POST', '/leads/bulk-update', { lead_ids: aIds, set: { status: 'lost', tags_add: ['hacked'] } }));
    const done = await waitForJob(env, job.job_id, 'completed');
    assert.equal(done.succeeded, 0);
    assert.equal(done.failed, 30);
    assert.equal(await count(`SELECT count(*)::int AS n FROM leads WHERE id = ANY($1::bigint[]) AND status = 'new' AND tags = '{}'`, [aIds]), 30);
  });
});

describe('delete imported', () => {
  async function importLeads(api: ReturnType<typeof client>, from: number, n: number): Promise<number> {
    const leads = Array.from({ length: n }, (_, i) => ({ phone: `+1415555${String(from + i).padStart(4, '0')}` }));
    const job = await accepted(await api<Accepted>('POST', '/leads/import', { leads }));
    await waitForJob(env, job.job_id, 'completed');
    assert.ok(job.import_id);
    return job.import_id;
  }
  const importedOf = (businessId: number, importId: number | null) =>
    count(`SELECT count(*)::int AS n FROM leads WHERE business_id = $1 AND source = 'import' AND ($2::bigint IS NULL OR import_id = $2)`, [businessId, importId]);

  test('by import_id, by lead_ids and all: only imported leads of the caller go', async () => {
    const t = await createTenant(env);
    await liftRateLimits(env, t);
    const api = client(env, t);
    const imp1 = await importLeads(api, 0, 120);
    const imp2 = await importLeads(api, 200, 70);
    const manual = await seedLeads(env, t, 10, { start: 9000 });
    const bImport = await importLeads(apiB, 0, 5);

    const byImport = await accepted(await api<Accepted>('POST', '/leads/imported/bulk-delete', { import_id: imp1 }));
    const d1 = await waitForJob(env, byImport.job_id, 'completed');
    assert.deepEqual({ total: d1.total, processed: d1.processed, succeeded: d1.succeeded, failed: d1.failed }, {
      total: 120, processed: 120, succeeded: 120, failed: 0,
    });
    assert.equal(await importedOf(t.businessId, imp1), 0);
    assert.equal(await importedOf(t.businessId, imp2), 70);

    const imp2Ids = (await env.pool.query<{ id: number }>(`SELECT id FROM leads WHERE import_id = $1 ORDER BY id`, [imp2])).rows.map((r) => r.id);
    const bIds = (await env.pool.query<{ id: number }>(`SELECT id FROM leads WHERE import_id = $1`, [bImport])).rows.map((r) => r.id);
    const byIds = await accepted(await api<Accepted>('POST', '/leads/imported/bulk-delete', { lead_ids: [...imp2Ids.slice(0, 20), ...manual, ...bIds] }));
    const d2 = await waitForJob(env, byIds.job_id, 'completed');
    assert.deepEqual({ total: d2.total, succeeded: d2.succeeded, failed: d2.failed }, { total: 35, succeeded: 20, failed: 15 });
    assert.equal(await importedOf(t.businessId, imp2), 50);
    assert.equal(await count(`SELECT count(*)::int AS n FROM leads WHERE id = ANY($1::bigint[])`, [manual]), 10);
    assert.equal(await importedOf(b.businessId, bImport), 5);

    const all = await accepted(await api<Accepted>('POST', '/leads/imported/bulk-delete', { all: true }));
    const d3 = await waitForJob(env, all.job_id, 'completed');
    assert.deepEqual({ total: d3.total, succeeded: d3.succeeded, failed: d3.failed }, { total: 50, succeeded: 50, failed: 0 });
    assert.equal(await importedOf(t.businessId, null), 0);
    assert.equal(await count(`SELECT count(*)::int AS n FROM leads WHERE business_id = $1`, [t.businessId]), 10);
    assert.equal(await importedOf(b.businessId, bImport), 5, 'another business keeps its imported leads');
  });

  test('another business\'s import is 404; the body needs exactly one scope', async () => {
    const bImport = await importLeads(apiB, 100, 2);
    const res = await apiA<{ error: { code: string } }>('POST', '/leads/imported/bulk-delete', { import_id: bImport });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'not_found');
    for (const body of [{}, { all: true, import_id: bImport }, { all: false }, { lead_ids: [] }, { import_id: 1, lead_ids: [1] }]) {
      assert.equal((await apiA('POST', '/leads/imported/bulk-delete', body)).status, 400, JSON.stringify(body));
    }
    assert.equal(await importedOf(b.businessId, bImport), 2);
  });
});
