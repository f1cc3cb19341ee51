import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTenant, startTestEnv, waitForJob, type Tenant, type TestEnv } from '../helpers/harness.js';
import { client, liftRateLimits } from './helpers.js';

interface Accepted {
  job_id: number;
  import_id: number;
  status: string;
}
interface ImportView {
  id: number;
  filename: string | null;
  status: string;
  total: number;
  inserted: number;
  duplicates: number;
  invalid: number;
  errors: { row: number; message: string }[];
}
interface Lead {
  id: number;
  phone: string;
  name: string | null;
  tags: string[];
  source: string;
  import_id: number | null;
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

const phone = (n: number) => `(312) 555-${String(n).padStart(4, '0')}`;
const e164 = (n: number) => `+1312555${String(n).padStart(4, '0')}`;

async function finished(api: ReturnType<typeof client>, accepted: Accepted): Promise<ImportView> {
  await waitForJob(env, accepted.job_id, 'completed');
  const res = await api<ImportView>('GET', `/imports/${accepted.import_id}`);
  assert.equal(res.status, 200);
  return res.body;
}

describe('JSON import', () => {
  test('validates rows across batches: exact counts, per-row errors, duplicates in file and existing', async () => {
    // An existing lead makes row 2 a duplicate of the business's data.
    assert.equal((await apiA('POST', '/leads', { phone: phone(2) })).status, 201);
    const leads: Record<string, unknown>[] = [];
    for (let i = 1; i <= 180; i += 1) leads.push({ phone: phone(i), name: `Row ${i}`, tags: ['spring', 'spring'] });
    leads[9] = { phone: 'not a phone' }; // row 10
    leads[59] = { phone: phone(60), email: 'broken' }; // row 60
    leads[99] = { name: 'no phone' }; // row 100
    leads.push({ phone: phone(3) }); // row 181: same as row 3, a later batch
    leads.push({ phone: `+1 312 555 0005` }); // row 182: same as row 5, another spelling
    leads.push({ phone: phone(181), extra: 'ignored' }); // row 183

    const res = await apiA<Accepted>('POST', '/leads/import', { leads, filename: 'spring.json' });
    assert.equal(res.status, 202);
    assert.equal(res.body.status, 'queued');
    assert.equal(res.headers.location, `/api/v1/jobs/${res.body.job_id}`);
    assert.ok(Number.isInteger(res.body.import_id));

    const job = await waitForJob(env, res.body.job_id, 'completed');
    assert.equal(job.total, 183);
    assert.equal(job.processed, 183);
    const imp = await finished(apiA, res.body);
    assert.deepEqual(
      { filename: imp.filename, status: imp.status, total: imp.total, inserted: imp.inserted, duplicates: imp.duplicates, invalid: imp.invalid },
      { filename: 'spring.json', status: 'completed', total: 183, inserted: 177, duplicates: 3, invalid: 3 },
    );
    assert.equal(job.succeeded, 177);
    assert.equal(job.failed, 6, 'failed = invalid + duplicates');
    assert.deepEqual(imp.errors.map((e) => e.row), [10, 60, 100]);
    assert.match(imp.errors[0]?.message ?? '', /^phone:/);
    assert.match(imp.errors[1]?.message ?? '', /^email:/);
    assert.match(imp.errors[2]?.message ?? '', /^phone: is required/);

    const { rows } = await env.pool.query<{ n: number; tagged: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE tags = ARRAY['spring'])::int AS tagged
         FROM leads WHERE business_id = $1 AND import_id = $2 AND source = 'import'`,
      [a.businessId, res.body.import_id],
    );
    assert.deepEqual(rows[0], { n: 177, tagged: 176 });
    const staged = await env.pool.query(`SELECT 1 FROM import_chunks WHERE import_id = $1`, [res.body.import_id]);
    assert.equal(staged.rows.length, 0, 'staged rows are gone once processed');

    const listed = await apiA<{ items: Lead[] }>('GET', `/leads?import_id=${res.body.import_id}&limit=500`);
    assert.equal(listed.body.items.length, 177);
    assert.ok(listed.body.items.every((l) => l.source === 'import' && l.import_id === res.body.import_id));
    assert.ok(listed.body.items.some((l) => l.phone === e164(181)));
  });

  test('stored errors are capped at 1000 but counts stay exact', async () => {
    const leads = Array.from({ length: 1203 }, (_, i) => (i < 1200 ? { phone: `bad-${i}` } : { phone: phone(5000 + i) }));
    const res = await apiA<Accepted>('POST', '/leads/import', { leads });
    assert.equal(res.status, 202);
    const imp = await finished(apiA, res.body);
    assert.equal(imp.invalid, 1200);
    assert.equal(imp.inserted, 3);
    assert.equal(imp.errors.length, 1000);
    assert.equal(imp.errors.at(-1)?.row, 1000);
    assert.equal(imp.filename, null);
  });

  test('empty, oversized or malformed imports are 400 and create nothing', async () => {
    const before = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE business_id = $1`, [a.businessId]);
    const tooMany = Array.from({ length: 100_001 }, () => ({ phone: '1' }));
    for (const payload of [{ leads: [] }, { leads: tooMany }, { leads: [1, 2] }, { rows: [] }, { leads: [{ phone: phone(1) }], filename: 'x'.repeat(256) }]) {
      const res = await apiA<{ error: { code: string } }>('POST', '/leads/import', payload);
      assert.equal(res.status, 400, JSON.stringify(payload).slice(0, 80));
      assert.equal(res.body.error.code, 'invalid_request');
    }
    const afterCount = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE business_id = $1`, [a.businessId]);
    assert.equal(afterCount.rows[0]?.n, before.rows[0]?.n);
  });

  test('Idempotency-Key replays the same answer; a new body with the same key is 422', async () => {
    const body = { leads: [{ phone: phone(7001) }], filename: 'idem.json' };
    const headers = { 'idempotency-key': 'import-7001' };
    const first = await apiA<Accepted>('POST', '/leads/import', body, headers);
    const second = await apiA<Accepted>('POST', '/leads/import', body, headers);
    assert.equal(first.status, 202);
    assert.equal(second.status, 202);
    assert.deepEqual(second.body, first.body);
    assert.equal(second.headers.location, `/api/v1/jobs/${first.body.job_id}`);
    const other = await apiA<{ error: { code: string } }>('POST', '/leads/import', { ...body, filename: 'other.json' }, headers);
    assert.equal(other.status, 422);
    assert.equal(other.body.error.code, 'idempotency_key_reused');
    await finished(apiA, first.body);
  });
});

describe('CSV import', () => {
  test('reads the header, tags cells, filename; reports bad rows', async () => {
    const csv = [
      'phone,name,email,tags',
      `${phone(8001)},Ada,ada@example.com,vip;west`,
      `${phone(8002)},"Lovelace, Ada",,a|b`,
      'garbage,Nope,,',
      `${phone(8001)},Dup,,`,
      `${phone(8003)},Bad email,not-an-email,`,
      '',
      `+13125558004`,
    ].join('\n');
    const res = await apiA<Accepted>('POST', '/leads/import?filename=contacts.csv', csv, { 'content-type': 'text/csv' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const imp = await finished(apiA, res.body);
    assert.deepEqual(
      { filename: imp.filename, total: imp.total, inserted: imp.inserted, duplicates: imp.duplicates, invalid: imp.invalid },
      { filename: 'contacts.csv', total: 6, inserted: 3, duplicates: 1, invalid: 2 },
    );
    assert.deepEqual(imp.errors.map((e) => e.row), [3, 5]);
    const leads = await apiA<{ items: Lead[] }>('GET', `/leads?import_id=${res.body.import_id}`);
    const byPhone = new Map(leads.body.items.map((l) => [l.phone, l]));
    assert.deepEqual(byPhone.get(e164(8001))?.tags, ['vip', 'west']);
    assert.equal(byPhone.get(e164(8001))?.name, 'Ada');
    assert.equal(byPhone.get(e164(8002))?.name, 'Lovelace, Ada');
    assert.deepEqual(byPhone.get(e164(8002))?.tags, ['a', 'b']);
    assert.ok(byPhone.has(e164(8004)));
  });

  test('the filename can come from X-Filename', async () => {
    const res = await apiA<Accepted>('POST', '/leads/import', `phone\n${phone(8101)}\n`, { 'content-type': 'text/csv', 'x-filename': 'h.csv' });
    assert.equal(res.status, 202);
    const imp = await finished(apiA, res.body);
    assert.equal(imp.filename, 'h.csv');
    assert.equal(imp.inserted, 1);
  });

  test('a CSV without a phone column, or with no data rows, is 400', async () => {
    for (const csv of ['name,email\nAda,a@b.co\n', 'phone\n', '']) {
      const res = await apiA<{ error: { code: string } }>('POST', '/leads/import', csv, { 'content-type': 'text/csv' });
      assert.equal(res.status, 400, JSON.stringify(csv));
      assert.equal(res.body.error.code, 'invalid_request');
    }
  });
});

describe('text PostgreSQL cannot store (issue 12.4)', () => {
  /** 120 rows: the one at `badRow` carries unstorable text; all others are valid and distinct. */
  async function importWithOneBadRow(start: number, badRow: number, send: (rows: string[]) => Promise<{ status: number; body: Accepted }>) {
    const rows = Array.from({ length: 120 }, (_, i) => phone(start + i));
    const res = await send(rows);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await waitForJob(env, res.body.job_id, (j) => j.status !== 'queued' && j.status !== 'running', 60_000);
    assert.equal(job.status, 'completed', `the import's job ends completed, not failed: ${job.last_error ?? ''}`);
    const imp = await finished(apiA, res.body);
    assert.deepEqual({ total: imp.total, inserted: imp.inserted, duplicates: imp.duplicates, invalid: imp.invalid }, { total: 120, inserted: 119, duplicates: 0, invalid: 1 });
    assert.deepEqual(imp.errors.map((e) => e.row), [badRow]);
    const { rows: stored } = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM leads WHERE business_id = $1 AND import_id = $2`, [a.businessId, res.body.import_id]);
    assert.equal(stored[0]?.n, 119);
    return imp.errors[0]?.message ?? '';
  }

  test('JSON: a lone surrogate in one row of 120 is that row\'s error; the other 119 are inserted', async () => {
    const message = await importWithOneBadRow(4000, 57, (phones) => apiA<Accepted>('POST', '/leads/import', {
      leads: phones.map((p, i) => (i === 56 ? { phone: p, name: 'Ann \ud800' } : { phone: p, name: `Row ${i + 1}` })),
    }));
    assert.match(message, /^name: contains a lone UTF-16 surrogate/);
  });

  test('JSON: a lone low surrogate in a tag, NUL in an email are row errors too', async () => {
    const tagged = await importWithOneBadRow(4200, 1, (phones) => apiA<Accepted>('POST', '/leads/import', {
      leads: phones.map((p, i) => (i === 0 ? { phone: p, tags: ['ok', 'x\udc00'] } : { phone: p })),
    }));
    assert.match(tagged, /^tags: contains a lone UTF-16 surrogate/);
    const mailed = await importWithOneBadRow(4400, 120, (phones) => apiA<Accepted>('POST', '/leads/import', {
      leads: phones.map((p, i) => (i === 119 ? { phone: p, email: 'a\u0000@b.co' } : { phone: p })),
    }));
    assert.match(mailed, /^email: contains the NUL character/);
  });

  test('CSV: a row with U+0000 of 120 is that row\'s error, not a 400 for the file', async () => {
    const message = await importWithOneBadRow(4600, 100, (phones) => apiA<Accepted>('POST', '/leads/import?filename=nul.csv', [
      'phone,name',
      ...phones.map((p, i) => `${p},${i === 99 ? 'Bad\u0000Name' : `Row ${i + 1}`}`),
    ].join('\n'), { 'content-type': 'text/csv' }));
    assert.match(message, /^name: contains the NUL character/);
  });

  test('a filename that cannot be stored is a 400 (JSON body, query, CSV query) and creates nothing', async () => {
    const count = async () => (await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM imports WHERE business_id = $1`, [a.businessId])).rows[0]?.n;
    const before = await count();
    const cases: [unknown, string, Record<string, string>, string][] = [
      [{ leads: [{ phone: phone(6900) }], filename: 'list\ud800.json' }, '/leads/import', {}, 'body.filename'],
      [{ leads: [{ phone: phone(6900) }], filename: '\udc00' }, '/leads/import', {}, 'body.filename'],
      [{ leads: [{ phone: phone(6900) }], filename: 'a\u0000.json' }, '/leads/import', {}, 'body.filename'],
      [{ leads: [{ phone: phone(6900) }] }, '/leads/import?filename=a%00b', {}, 'querystring.filename'],
      [`phone\n${phone(6900)}\n`, '/leads/import?filename=a%00b.csv', { 'content-type': 'text/csv' }, 'querystring.filename'],
    ];
    for (const [payload, path, headers, at] of cases) {
      const res = await apiA<{ error: { code: string; details: { issues: { path: string }[] } } }>('POST', path, payload, headers);
      assert.equal(res.status, 400, `${path} ${JSON.stringify(payload)}`);
      assert.equal(res.body.error.code, 'invalid_request');
      assert.equal(res.body.error.details.issues[0]?.path, at);
    }
    assert.equal(await count(), before);
  });
});

describe('tenant isolation', () => {
  test('another business\'s import is 404; the same phones are new leads for it', async () => {
    const res = await apiA<Accepted>('POST', '/leads/import', { leads: [{ phone: phone(9001) }] });
    await finished(apiA, res.body);
    const fromB = await apiB<{ error: { code: string } }>('GET', `/imports/${res.body.import_id}`);
    assert.equal(fromB.status, 404);
    assert.equal(fromB.body.error.code, 'not_found');

    const inB = await apiB<Accepted>('POST', '/leads/import', { leads: [{ phone: phone(9001) }] });
    const imp = await finished(apiB, inB.body);
    assert.equal(imp.inserted, 1);
    assert.equal(imp.duplicates, 0);
  });
});
