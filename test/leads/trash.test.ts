import assert from 'node:assert/strict';
import { insertNote } from '../../src/leads/leads.repo.js';
import { moveLeadsToTrash } from '../../src/leads/trash.repo.js';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { insertJob } from '../../src/jobs/jobs.repo.js';
import { addFailures, RESTORE_FAILURES_SHOWN, restoreFailures } from '../../src/leads/restore-leads.job.js';
import { purgeTrash } from '../../src/leads/trash.repo.js';
import { createTenant, startTestEnv, waitFor, waitForJob, type Tenant, type TestEnv } from '../helpers/harness.js';
import { FAST_TAKEOVER, spawnTs, type Child } from '../helpers/processes.js';
import { client, liftRateLimits, seedLeads } from './helpers.js';

/**
 * The trash (DESIGN.md invariant 10): bulk deletes move each lead with its notes, activities and
 * reminders there in the batch transaction; restore_leads puts them back with the same ids;
 * retention purges them. Worker retention runs every 200 ms here, so the purge test sees it work.
 */

interface Accepted {
  job_id: number;
  status: string;
}

interface TrashItem {
  lead_id: number;
  phone: string;
  name: string | null;
  deleted_at: string;
  deleted_by_job_id: number;
  counts: { notes: number; activities: number; reminders: number };
}

interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

interface Failure {
  lead_id: number;
  reason: string;
  message: string;
  conflicting_lead_id: number | null;
}

const CHILD_TABLES = ['lead_notes', 'lead_activities', 'lead_reminders'] as const;

let env: TestEnv;
let a: Tenant;
let b: Tenant;
let apiA: ReturnType<typeof client>;
let apiB: ReturnType<typeof client>;
/** Phones never repeat within the file: each seed takes the next range. */
let phoneSeq = 0;

async function allowMany(t: Tenant): Promise<void> {
  await liftRateLimits(env, t);
  await env.pool.query(`UPDATE businesses SET rate_limits = rate_limits || '{"restore_leads": 1000}'::jsonb WHERE id = $1`, [t.businessId]);
}

before(async () => {
  env = await startTestEnv({ env: { JOB_BATCH_SIZE: '20', JOB_RETENTION_EVERY_MS: '200' } });
  a = await createTenant(env);
  b = await createTenant(env);
  await allowMany(a);
  await allowMany(b);
  apiA = client(env, a);
  apiB = client(env, b);
});
after(() => env.close());

/** `n` leads with a note, an activity and a reminder each, and a second note on every third one. */
async function seed(t: Tenant, n: number, opts: { source?: 'manual' | 'import'; importId?: number | null } = {}): Promise<number[]> {
  const ids = await seedLeads(env, t, n, { start: phoneSeq, children: true, ...opts });
  phoneSeq += n;
  await env.pool.query(
    `INSERT INTO lead_notes (business_id, lead_id, text, created_by) SELECT $1, id, 'second note ' || id, NULL FROM unnest($2::bigint[]) AS id`,
    [t.businessId, ids.filter((_, i) => i % 3 === 0)],
  );
  return ids;
}

/** Every column of the leads and of their children, as PostgreSQL has them. */
async function snapshot(ids: number[]): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  const { rows } = await env.pool.query<{ r: unknown }>(`SELECT to_jsonb(l) AS r FROM leads l WHERE id = ANY($1::bigint[]) ORDER BY id`, [ids]);
  out.leads = rows.map((x) => x.r);
  for (const table of CHILD_TABLES) {
    const res = await env.pool.query<{ r: unknown }>(`SELECT to_jsonb(c) AS r FROM ${table} c WHERE lead_id = ANY($1::bigint[]) ORDER BY id`, [ids]);
    out[table] = res.rows.map((x) => x.r);
  }
  return out;
}

async function count(sql: string, params: unknown[], db: pg.Pool = env.pool): Promise<number> {
  const { rows } = await db.query<{ n: number }>(sql, params);
  return rows[0]?.n ?? -1;
}

async function accepted(res: { status: number; body: unknown }): Promise<number> {
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return (res.body as Accepted).job_id;
}

/** Every page of the trash list (`query` without limit/cursor), following next_cursor. */
async function listAll(api: ReturnType<typeof client>, query: string, limit: number): Promise<TrashItem[]> {
  const items: TrashItem[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const res: { status: number; body: Page<TrashItem> } = await api<Page<TrashItem>>('GET', `/trash/leads?${query}${query ? '&' : ''}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    items.push(...res.body.items);
    cursor = res.body.next_cursor;
    if (cursor === null) return items;
  }
  throw new Error('the trash list never ended');
}

async function deleteAndWait(api: ReturnType<typeof client>, ids: number[]): Promise<number> {
  const jobId = await accepted(await api('POST', '/leads/bulk-delete', { lead_ids: ids }));
  const done = await waitForJob(env, jobId, 'completed');
  assert.equal(done.succeeded, ids.length, `delete job ${jobId}: ${JSON.stringify(done)}`);
  return jobId;
}

describe('the trash', () => {
  test('each trash table has the columns of the table it keeps, in order (a column added to one only would lose data)', async () => {
    const columns = async (table: string): Promise<string[]> => (await env.pool.query<{ c: string }>(
      `SELECT attname || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END AS c
         FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [table],
    )).rows.map((r) => r.c);
    assert.deepEqual(await columns('trash_leads'), [
      'deleted_by_job_id bigint not null', 'deleted_at timestamp with time zone not null', ...await columns('leads')]);
    for (const table of CHILD_TABLES) assert.deepEqual(await columns(`trash_${table}`), await columns(table), table);
  });

  test('a bulk delete moves leads with their children to the trash; restore by job puts back the same rows', async () => {
    const ids = await seed(a, 100);
    const keep = await seed(a, 5);
    // Fields beyond the seed's: status, tags, email, owner.
    await env.pool.query(
      `UPDATE leads SET status = 'won', tags = ARRAY['vip', 'q3'], email = 'x' || id || '@example.com', owner_user_id = $2 WHERE id = ANY($1::bigint[])`,
      [ids.filter((_, i) => i % 2 === 0), a.userId],
    );
    const before = await snapshot(ids);
    assert.equal(before.leads?.length, 100);
    assert.equal(before.lead_notes?.length, 134);

    const jobId = await deleteAndWait(apiA, ids);
    assert.equal(await count(`SELECT count(*)::int AS n FROM leads WHERE id = ANY($1::bigint[])`, [ids]), 0);
    for (const table of CHILD_TABLES) {
      assert.equal(await count(`SELECT count(*)::int AS n FROM ${table} WHERE lead_id = ANY($1::bigint[])`, [ids]), 0, table);
    }
    assert.equal(await count(`SELECT count(*)::int AS n FROM leads WHERE id = ANY($1::bigint[])`, [keep]), 5, 'other leads stay');

    // The list, 30 a page: every lead once, in id order, with what it kept.
    const listed = await listAll(apiA, `job_id=${jobId}`, 30);
    assert.deepEqual(listed.map((l) => l.lead_id), ids);
    const first = listed[0];
    assert.ok(first);
    assert.deepEqual({ ...first, deleted_at: 'x' }, {
      lead_id: ids[0], phone: (before.leads?.[0] as { phone: string }).phone, name: (before.leads?.[0] as { name: string }).name,
      deleted_at: 'x', deleted_by_job_id: jobId, counts: { notes: 2, activities: 1, reminders: 1 },
    });
    assert.ok(Date.now() - Date.parse(first.deleted_at) < 60_000);
    assert.equal(listed.filter((l) => l.counts.notes === 2).length, 34);
    assert.ok((await listAll(apiA, '', 500)).length >= 100, 'listed without job_id as well');

    const restoreId = await accepted(await apiA('POST', '/trash/restore', { job_id: jobId }, { 'idempotency-key': 'restore-1' }));
    const done = await waitForJob(env, restoreId, 'completed');
    assert.deepEqual([done.total, done.processed, done.succeeded, done.failed], [100, 100, 100, 0]);
    assert.deepEqual(done.result, { failures: [], failed_by_reason: {} });
    assert.deepEqual(await snapshot(ids), before, 'the same ids, columns and children');
    assert.deepEqual((await listAll(apiA, `job_id=${jobId}`, 50)).length, 0, 'the trash of the job is empty');

    const detail = await apiA<{ id: number; counts: unknown }>('GET', `/leads/${ids[0]}`);
    assert.equal(detail.status, 200);
    assert.deepEqual(detail.body.counts, { notes: 2, activities: 1, reminders: 1 });

    // The same key replays the 202; the same request without it is the gate's duplicate.
    const replay = await apiA('POST', '/trash/restore', { job_id: jobId }, { 'idempotency-key': 'restore-1' });
    assert.equal(await accepted(replay), restoreId);
    const again = await apiA<{ error: { code: string; details: { job_id: number } } }>('POST', '/trash/restore', { job_id: jobId });
    assert.deepEqual([again.status, again.body.error.code, again.body.error.details.job_id], [429, 'duplicate_request', restoreId]);
  });

  test('a note added while its lead is being deleted goes to the trash with the lead, not lost', async () => {
    const [x] = await seed(a, 1);
    assert.ok(x);
    const adder = await env.pool.connect();
    try {
      // POST /leads/:id/notes's own statement: it holds a key-share lock on the lead until commit.
      await adder.query('BEGIN');
      assert.ok(await insertNote(adder, a.businessId, x, a.userId, 'added at the last moment'));
      const jobId = await accepted(await apiA('POST', '/leads/bulk-delete', { lead_ids: [x] }));
      await waitFor(async () => (await count(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`, [],
      )) === 1, 'the delete batch waits for the note');
      await adder.query('COMMIT');
      assert.equal((await waitForJob(env, jobId, 'completed')).succeeded, 1);
      const [item] = await listAll(apiA, `job_id=${jobId}`, 10);
      assert.deepEqual(item?.counts, { notes: 3, activities: 1, reminders: 1 });
      assert.equal(await count(`SELECT count(*)::int AS n FROM lead_notes WHERE lead_id = $1`, [x]), 0);
    } finally {
      await adder.query('ROLLBACK').catch(() => undefined);
      adder.release();
    }
  });

  test('a note sent while a delete batch holds its lead waits, then finds the lead gone: no orphan without the foreign key', async () => {
    const [x] = await seed(a, 1);
    assert.ok(x);
    const batch = await env.pool.connect();
    try {
      await batch.query('BEGIN');
      await moveLeadsToTrash(batch, a.businessId, [x], 0);
      const note = insertNote(env.pool, a.businessId, x, a.userId, 'too late');
      await waitFor(async () => (await count(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`, [],
      )) === 1, 'the note waits for the batch');
      await batch.query('COMMIT');
      assert.equal(await note, null);
      assert.equal(await count(`SELECT count(*)::int AS n FROM lead_notes WHERE lead_id = $1`, [x]), 0);
    } finally {
      await batch.query('ROLLBACK').catch(() => undefined);
      batch.release();
    }
  });

  test('a delete job with nothing in the trash restores nothing, and says so', async () => {
    const del = await accepted(await apiA('POST', '/leads/bulk-delete', { lead_ids: [999_999_998] }));
    assert.deepEqual((await waitForJob(env, del, 'completed')).failed, 1);
    const restoreId = await accepted(await apiA('POST', '/trash/restore', { job_id: del }));
    const done = await waitForJob(env, restoreId, 'completed');
    assert.deepEqual([done.total, done.processed, done.succeeded, done.failed], [0, 0, 0, 0]);
  });

  test('delete_imported_leads fills the trash too; restore by ids: a gone import or owner becomes NULL, ids not in the trash fail', async () => {
    const { rows } = await env.pool.query<{ id: number }>(`INSERT INTO imports (business_id, filename, status) VALUES ($1, 'x.csv', 'completed') RETURNING id`, [a.businessId]);
    const importId = rows[0]?.id ?? 0;
    const ids = await seed(a, 45, { source: 'import', importId });
    const { rows: users } = await env.pool.query<{ id: number }>(`INSERT INTO users (business_id, email) VALUES ($1, 'gone@example.com') RETURNING id`, [a.businessId]);
    const goneUser = users[0]?.id ?? 0;
    await env.pool.query(`UPDATE leads SET owner_user_id = $2 WHERE id = ANY($1::bigint[])`, [ids.slice(0, 10), goneUser]);
    const before = await snapshot(ids);

    const jobId = await accepted(await apiA('POST', '/leads/imported/bulk-delete', { import_id: importId }));
    const deleted = await waitForJob(env, jobId, 'completed');
    assert.deepEqual([deleted.processed, deleted.succeeded], [45, 45]);
    assert.equal(await count(`SELECT count(*)::int AS n FROM trash_leads WHERE deleted_by_job_id = $1`, [jobId]), 45);
    await env.pool.query(`DELETE FROM imports WHERE id = $1`, [importId]);
    await env.pool.query(`DELETE FROM users WHERE id = $1`, [goneUser]);

    const living = await seed(a, 2);
    const asked = [...ids.slice(0, 30), ...living, 999_999_999];
    const restoreId = await accepted(await apiA('POST', '/trash/restore', { lead_ids: asked }));
    const done = await waitForJob(env, restoreId, 'completed');
    assert.deepEqual([done.total, done.processed, done.succeeded, done.failed], [33, 33, 30, 3]);
    const failures = (done.result?.failures ?? []) as Failure[];
    assert.deepEqual(failures.map((f) => [f.lead_id, f.reason]), [...living, 999_999_999].map((id) => [id, 'not_in_trash']));
    assert.deepEqual(done.result?.failed_by_reason, { not_in_trash: 3 });

    const expected = structuredClone(before);
    expected.leads = (expected.leads ?? []).slice(0, 30).map((l) => ({ ...(l as object), import_id: null, owner_user_id: null }));
    for (const table of CHILD_TABLES) expected[table] = (expected[table] ?? []).filter((c) => ids.slice(0, 30).includes((c as { lead_id: number }).lead_id));
    assert.deepEqual(await snapshot(ids), expected);
    assert.deepEqual((await listAll(apiA, `job_id=${jobId}`, 100)).map((l) => l.lead_id), ids.slice(30), 'the rest stays in the trash');
  });

  test('a lead whose phone belongs to another lead now stays in the trash and counts as failed, with the reason', async () => {
    const ids = await seed(a, 5);
    const phones = (await snapshot(ids)).leads?.map((l) => (l as { phone: string }).phone) ?? [];
    const jobId = await deleteAndWait(apiA, ids);
    const taker = await apiA<{ id: number }>('POST', '/leads', { phone: phones[1] });
    assert.equal(taker.status, 201);

    const restoreId = await accepted(await apiA('POST', '/trash/restore', { job_id: jobId }));
    const done = await waitForJob(env, restoreId, 'completed');
    assert.deepEqual([done.total, done.processed, done.succeeded, done.failed], [5, 5, 4, 1]);
    assert.deepEqual(done.result, {
      failures: [{
        lead_id: ids[1], reason: 'phone_taken', conflicting_lead_id: taker.body.id,
        message: `The phone ${phones[1]} now belongs to lead ${taker.body.id}; lead ${ids[1]} stays in the trash.`,
      }],
      failed_by_reason: { phone_taken: 1 },
    });
    assert.deepEqual((await listAll(apiA, `job_id=${jobId}`, 10)).map((l) => l.lead_id), [ids[1]]);
    assert.equal(await count(`SELECT count(*)::int AS n FROM lead_notes WHERE lead_id = $1`, [ids[1]]), 0, 'no children for a lead that did not come back');

    // Two deletes of one number: restored together, the lower id wins and the other names it.
    const [x] = await seed(a, 1);
    assert.ok(x);
    const phone = (await snapshot([x])).leads?.map((l) => (l as { phone: string }).phone)[0];
    await deleteAndWait(apiA, [x]);
    const y = (await apiA<{ id: number }>('POST', '/leads', { phone })).body.id;
    await deleteAndWait(apiA, [y]);
    const both = await accepted(await apiA('POST', '/trash/restore', { lead_ids: [y, x] }));
    const twin = await waitForJob(env, both, 'completed');
    assert.deepEqual([twin.succeeded, twin.failed], [1, 1]);
    assert.deepEqual(((twin.result?.failures ?? []) as Failure[]).map((f) => [f.lead_id, f.reason, f.conflicting_lead_id]), [[y, 'phone_taken', x]]);
    assert.equal(await count(`SELECT count(*)::int AS n FROM leads WHERE id = ANY($1::bigint[])`, [[x, y]]), 1);
  });

  test("another business can neither list nor restore a business's trash", async () => {
    const ids = await seed(a, 6);
    const jobId = await deleteAndWait(apiA, ids);

    const listed = await apiB<Page<TrashItem>>('GET', `/trash/leads?job_id=${jobId}`);
    assert.deepEqual([listed.status, listed.body.items.length], [200, 0]);
    assert.deepEqual((await listAll(apiB, '', 500)).length, 0);

    const byJob = await apiB<{ error: { code: string } }>('POST', '/trash/restore', { job_id: jobId });
    assert.deepEqual([byJob.status, byJob.body.error.code], [404, 'not_found']);

    const byIds = await accepted(await apiB('POST', '/trash/restore', { lead_ids: ids }));
    const done = await waitForJob(env, byIds, 'completed');
    assert.deepEqual([done.succeeded, done.failed], [0, 6]);
    assert.deepEqual(done.result?.failed_by_reason, { not_in_trash: 6 });
    assert.equal(await count(`SELECT count(*)::int AS n FROM leads WHERE id = ANY($1::bigint[])`, [ids]), 0);
    assert.equal(await count(`SELECT count(*)::int AS n FROM trash_leads WHERE business_id = $1 AND id = ANY($2::bigint[])`, [a.businessId, ids]), 6);
  });

  test('restore refuses what is not a delete job of the business (404) and a delete still in progress (409)', async () => {
    const notFound = async (jobId: number) => {
      const res = await apiA<{ error: { code: string } }>('POST', '/trash/restore', { job_id: jobId });
      assert.deepEqual([res.status, res.body.error.code], [404, 'not_found'], `job ${jobId}`);
    };
    const update = await accepted(await apiA('POST', '/leads/bulk-update', { lead_ids: [1], set: { status: 'x' } }));
    await notFound(update);
    await notFound(Number.MAX_SAFE_INTEGER);

    const paused = await insertJob(env.pool, {
      businessId: a.businessId, type: 'delete_leads_bulk', queue: 'maintenance', params: { lead_count: 1 }, targets: [1],
      paramsHash: 'trash-test', lockKey: 'delete_leads_bulk', total: 1, createdBy: a.userId, status: 'paused',
    });
    const res = await apiA<{ error: { code: string } }>('POST', '/trash/restore', { job_id: paused.id });
    assert.deepEqual([res.status, res.body.error.code], [409, 'delete_in_progress']);
    assert.equal((await apiA('POST', `/jobs/${paused.id}/cancel`)).status, 200);

    const bad = await apiA<{ error: { code: string } }>('POST', '/trash/restore', { job_id: 1, lead_ids: [1] });
    assert.deepEqual([bad.status, bad.body.error.code], [400, 'invalid_request']);
    assert.equal(await count(`SELECT count(*)::int AS n FROM jobs WHERE business_id = $1 AND type = 'restore_leads' AND params->>'delete_job_id' IN ($2, $3)`, [a.businessId, String(update), String(paused.id)]), 0);
  });

  test('the worker purges trash older than TRASH_RETENTION_DAYS (30), and only that', async () => {
    const ids = await seed(a, 10);
    const jobId = await deleteAndWait(apiA, ids);
    const old = ids.slice(0, 4);
    const recent = ids.slice(4, 7);
    await env.pool.query(`UPDATE trash_leads SET deleted_at = now() - interval '31 days' WHERE id = ANY($1::bigint[])`, [old]);
    await env.pool.query(`UPDATE trash_leads SET deleted_at = now() - interval '29 days' WHERE id = ANY($1::bigint[])`, [recent]);

    const left = await waitFor(async () => {
      const n = await count(`SELECT count(*)::int AS n FROM trash_leads WHERE deleted_by_job_id = $1`, [jobId]);
      return n === 6 ? n : null;
    }, 'the retention pass purged the old rows', 10_000);
    assert.equal(left, 6);
    assert.deepEqual((await listAll(apiA, `job_id=${jobId}`, 50)).map((l) => l.lead_id), ids.slice(4));
    assert.equal(await purgeTrash(env.pool, 30), 0, 'nothing older is left');
    assert.equal(await purgeTrash(env.pool, 28), 3, 'the 29-day-old rows go with a shorter retention');
  });

  test('failures: counted exactly, listed up to the cap', () => {
    const outcomes = Array.from({ length: 70 }, (_, i) => ({ lead_id: i + 1, phone: null, restored: false, phone_holder: null }));
    const once = addFailures({ failures: [], failed_by_reason: {} }, restoreFailures(outcomes));
    const twice = addFailures(once, restoreFailures(outcomes));
    assert.equal(twice.failures.length, RESTORE_FAILURES_SHOWN);
    assert.deepEqual(twice.failed_by_reason, { not_in_trash: 140 });
    assert.deepEqual(twice.failures.slice(68, 72).map((f) => f.lead_id), [69, 70, 1, 2]);
  });
});

describe('restore_leads and a crash', () => {
  let crashEnv: TestEnv;
  const children: Child[] = [];
  let holder: pg.PoolClient | null = null;

  before(async () => {
    crashEnv = await startTestEnv({ worker: false });
  });
  after(async () => {
    await holder?.query('ROLLBACK').catch(() => undefined);
    holder?.release();
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await crashEnv.close();
  });

  async function worker(): Promise<Child> {
    const c = await spawnTs('src/cli/main.ts', { DATABASE_URL: crashEnv.url, JOB_BATCH_SIZE: '50', JOB_BATCH_PAUSE_MS: '5', ...FAST_TAKEOVER }, ['worker'], /worker started/);
    children.push(c);
    return c;
  }

  test('kill -9 of a `bulkhead worker` in the middle of a restore batch: the next one restores every lead exactly once', async () => {
    const t = await createTenant(crashEnv);
    const pool = crashEnv.pool;
    const api = client(crashEnv, t);
    const ids = await seedLeads(crashEnv, t, 3000, { start: 0, children: true });
    const first = await worker();
    const del = await accepted(await api('POST', '/leads/bulk-delete', { lead_ids: ids }));
    assert.deepEqual((await waitForJob(crashEnv, del, 'completed', 60_000)).succeeded, 3000);

    // A row lock on the 2001st trash row stops the restore inside a batch transaction there.
    holder = await pool.connect();
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM trash_leads WHERE business_id = $1 AND id = $2 FOR UPDATE`, [t.businessId, ids[2000]]);
    const restore = await accepted(await api('POST', '/trash/restore', { job_id: del }));
    await waitFor(async () => (await count(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO lead_notes%'`, [], pool,
    )) === 1, 'the restore batch waits on the locked row', 60_000);
    const mid = await waitForJob(crashEnv, restore, (j) => j.status === 'running');
    assert.equal(mid.processed, 2000, 'stopped inside the batch that holds lead 2001');

    first.kill('SIGKILL');
    await first.exited;
    await holder.query('ROLLBACK');
    holder.release();
    holder = null;
    const second = await worker();
    const done = await waitForJob(crashEnv, restore, 'completed', 60_000);
    // A batch applied twice would find its trash rows gone and count them as failed.
    assert.deepEqual([done.total, done.processed, done.succeeded, done.failed], [3000, 3000, 3000, 0]);
    assert.equal(await count(`SELECT count(*)::int AS n FROM leads WHERE business_id = $1 AND id = ANY($2::bigint[])`, [t.businessId, ids], pool), 3000);
    for (const table of CHILD_TABLES) {
      assert.equal(await count(`SELECT count(*)::int AS n FROM ${table} WHERE business_id = $1`, [t.businessId], pool), 3000, table);
    }
    assert.equal(await count(`SELECT count(*)::int AS n FROM trash_leads WHERE business_id = $1`, [t.businessId], pool), 0);
    second.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  });
});
