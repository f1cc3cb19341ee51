import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createTenant, startTestEnv, type Tenant, type TestEnv } from '../helpers/harness.js';
import { client, liftRateLimits } from './helpers.js';

/**
 * Accepting an import (src/leads/imports.service.ts): the gate, the job, the import, its staged
 * rows and the audit entry in one transaction of few statements. No worker runs, so the staged
 * rows stay where the accept put them.
 */
let env: TestEnv;
let a: Tenant;
let apiA: ReturnType<typeof client>;

before(async () => {
  env = await startTestEnv({ worker: false });
  a = await createTenant(env);
  await liftRateLimits(env, a);
  apiA = client(env, a);
});
after(() => env.close());

interface Accepted {
  job_id: number;
  import_id: number;
  status: string;
}

/** The statements each pg client sends while `work` runs, in order. */
async function statementsDuring(work: () => Promise<unknown>): Promise<Map<pg.Client, string[]>> {
  const seen = new Map<pg.Client, string[]>();
  const query = Object.getOwnPropertyDescriptor(pg.Client.prototype, 'query');
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const q = args[0];
    const text = typeof q === 'string' ? q : (q as { text?: unknown } | null)?.text;
    seen.set(this, [...(seen.get(this) ?? []), typeof text === 'string' ? text.replace(/\s+/g, ' ').trim() : '?']);
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    await work();
  } finally {
    if (query) Object.defineProperty(pg.Client.prototype, 'query', query);
  }
  return seen;
}

async function audited(jobId: number): Promise<{ user_id: number | null; details: unknown }[]> {
  const { rows } = await env.pool.query<{ user_id: number | null; details: unknown }>(
    `SELECT user_id, details FROM audit_log WHERE business_id = $1 AND action = 'job.accepted' AND target_type = 'job' AND target_id = $2`,
    [a.businessId, String(jobId)],
  );
  return rows;
}

async function staged(importId: number): Promise<{ chunks: number; rows: number }> {
  const { rows } = await env.pool.query<{ chunks: number; rows: number }>(
    `SELECT count(*)::int AS chunks, coalesce(sum(row_count), 0)::int AS rows FROM import_chunks WHERE import_id = $1`,
    [importId],
  );
  return rows[0] ?? { chunks: 0, rows: 0 };
}

async function counts(): Promise<{ jobs: number; imports: number; audit: number }> {
  const { rows } = await env.pool.query<{ jobs: number; imports: number; audit: number }>(
    `SELECT (SELECT count(*)::int FROM jobs WHERE business_id = $1) AS jobs,
            (SELECT count(*)::int FROM imports WHERE business_id = $1) AS imports,
            (SELECT count(*)::int FROM audit_log WHERE business_id = $1 AND action = 'job.accepted') AS audit`,
    [a.businessId],
  );
  const row = rows[0];
  assert.ok(row);
  return row;
}

describe('accepting an import', () => {
  test('one transaction of five statements: the gate is one, and the import, its rows and the audit entry are one', async () => {
    let res: Awaited<ReturnType<typeof apiA<Accepted>>> | undefined;
    const seen = await statementsDuring(async () => {
      res = await apiA<Accepted>('POST', '/leads/import', { leads: [{ phone: '+12125550001' }], filename: 'one.json' });
    });
    assert.equal(res?.status, 202);
    const accepted = res.body;

    const tx = [...seen.values()].find((texts) => texts.some((t) => t.includes('INSERT INTO imports')));
    assert.ok(tx, 'the accept transaction ran on a pooled client');
    const begin = tx.lastIndexOf('BEGIN');
    const inTx = tx.slice(begin, tx.indexOf('COMMIT', begin) + 1);
    // BEGIN, the gate (its lock, then its observation), the job, the import with its rows and audit entry, COMMIT.
    assert.ok(inTx.length <= 5, `at most 5 statements, got ${inTx.length}:\n${inTx.join('\n')}`);
    assert.ok(!inTx.some((t) => t.startsWith('INSERT INTO audit_log')), 'the audit entry rides on the import\'s statement');

    assert.deepEqual(await audited(accepted.job_id), [{ user_id: a.userId, details: { operation: 'import_leads', count: 1 } }]);
    assert.deepEqual(await staged(accepted.import_id), { chunks: 1, rows: 1 });
    const imp = await apiA<{ job_id: number; filename: string; total: number }>('GET', `/imports/${accepted.import_id}`);
    assert.deepEqual([imp.body.job_id, imp.body.filename, imp.body.total], [accepted.job_id, 'one.json', 1]);
  });

  test('a large import with a key: every chunk staged, one audit entry, the replay changes nothing', async () => {
    // ~600 KB of rows: more than one INSERT's worth (256 KiB), and more chunks than a named statement takes.
    const leads = Array.from({ length: 3000 }, (_, i) => ({ phone: `+1212556${String(i).padStart(4, '0')}`, name: `Row ${i} ${'x'.repeat(180)}` }));
    const key = { 'idempotency-key': 'large-import' };
    const first = await apiA<Accepted>('POST', '/leads/import', { leads }, key);
    assert.equal(first.status, 202);
    const before = await counts();
    const again = await apiA<Accepted>('POST', '/leads/import', { leads }, key);
    assert.equal(again.status, 202);
    assert.deepEqual(again.body, first.body);
    assert.deepEqual(await counts(), before);
    assert.deepEqual(await staged(first.body.import_id), { chunks: 6, rows: 3000 });
    assert.deepEqual(await audited(first.body.job_id), [{ user_id: a.userId, details: { operation: 'import_leads', count: 3000 } }]);
  });

  test('an audit write that fails takes the job, the import and its rows down with it', async () => {
    const before = await counts();
    const chunksBefore = (await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM import_chunks`)).rows[0]?.n;
    await env.pool.query(`CREATE FUNCTION test_fail_import_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit store down'; END $$`);
    await env.pool.query(`CREATE TRIGGER test_fail_import_audit BEFORE INSERT ON audit_log FOR EACH ROW WHEN (NEW.action = 'job.accepted') EXECUTE FUNCTION test_fail_import_audit()`);
    try {
      const plain = await apiA('POST', '/leads/import', { leads: [{ phone: '+12125550002' }] });
      assert.equal(plain.status, 500);
      const keyed = await apiA('POST', '/leads/import', { leads: [{ phone: '+12125550003' }] }, { 'idempotency-key': 'failing-audit' });
      assert.equal(keyed.status, 500);
    } finally {
      await env.pool.query(`DROP TRIGGER test_fail_import_audit ON audit_log; DROP FUNCTION test_fail_import_audit()`);
    }
    assert.deepEqual(await counts(), before);
    assert.equal((await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM import_chunks`)).rows[0]?.n, chunksBefore);
    // Nothing of the failed request was remembered under its key: it can be sent again.
    const retried = await apiA<Accepted>('POST', '/leads/import', { leads: [{ phone: '+12125550003' }] }, { 'idempotency-key': 'failing-audit' });
    assert.equal(retried.status, 202);
    assert.equal((await audited(retried.body.job_id)).length, 1);
  });
});
