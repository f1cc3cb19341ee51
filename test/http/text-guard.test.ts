/**
 * Issue 12.4: text PostgreSQL cannot store (U+0000, a lone UTF-16 surrogate) is a 400 at the edge
 * on every API route, named by its path, and never a 500. Import rows are the exception, judged
 * row by row (test/leads/import.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findUnstorableText } from '../../src/http/text-guard.js';
import { unstorableTextReason } from '../../src/lib/storable-text.js';
import { ADMIN_TOKEN, createTenant, startTestEnv, type Tenant, type TestEnv } from '../helpers/harness.js';
import { liftRateLimits } from '../leads/helpers.js';

describe('unstorableTextReason', () => {
  test('NUL and lone surrogates are refused; pairs, emoji, Hebrew and the replacement character are not', () => {
    const refused = ['\u0000', 'a\u0000', '\ud800', 'a\ud800', '\ud800a', '\udc00', 'a\udc00b', '\udc00\ud800', '\ud83d\ud83d\udca5', '💥\udfff'];
    for (const s of refused) assert.ok(unstorableTextReason(s), JSON.stringify(s));
    assert.match(unstorableTextReason('x\u0000') ?? '', /NUL character \(U\+0000\)/);
    assert.match(unstorableTextReason('x\ud800') ?? '', /lone UTF-16 surrogate/);
    for (const s of ['', 'plain', '\ud83d\udca5', 'שלום', 'e\u0301', '\ufffd', '\u202e', '\uffff', '𝕏'.repeat(1000)]) {
      assert.equal(unstorableTextReason(s), null, JSON.stringify(s));
    }
  });
});

describe('findUnstorableText', () => {
  test('names the path of the first bad string, or of a bad key', () => {
    assert.deepEqual(findUnstorableText({ set: { tags_add: ['ok', '\ud800'] } }, 'body')?.path, 'body.set.tags_add.1');
    assert.equal(findUnstorableText({ a: [{ b: 'x' }, { c: 'y\udc00' }] }, 'body')?.path, 'body.a.1.c');
    const key = findUnstorableText({ ['k\ud800']: 1 }, 'body');
    assert.equal(key?.path, 'body.k\ud800');
    assert.match(key?.reason ?? '', /^has a key that contains a lone UTF-16 surrogate/);
    assert.equal(findUnstorableText('\u0000', 'body')?.path, 'body');
    assert.equal(findUnstorableText({ a: [1, true, null, '💥', { b: 'ok' }] }, 'body'), null);
  });

  // Its speed against JSON.parse is measured by bench/text-guard.ts (docs/BENCHMARKS.md), not here:
  // a timed bound in the suite failed on a loaded CI machine (66 ms against 1.5 × 40.9 ms).
  test('a body nested 200 000 levels deep is walked without overflowing the stack', () => {
    const deep = JSON.parse(`${'['.repeat(200_000)}"\\ud800"${']'.repeat(200_000)}`) as unknown;
    const found = findUnstorableText(deep, 'body');
    assert.ok(found?.path.startsWith('body.0.0.0'));
    assert.equal(found?.path.split('.').length, 200_001);
  });
});

describe('every API route refuses unstorable text with a 400 that names it', () => {
  let env: TestEnv;
  let t: Tenant;
  let leadId = 0;

  before(async () => {
    env = await startTestEnv({ worker: false });
    t = await createTenant(env);
    await liftRateLimits(env, t);
    const lead = await env.app.inject({ method: 'POST', url: '/api/v1/leads', headers: t.headers, payload: { phone: '+12125550100' } });
    leadId = (lead.json() as { id: number }).id;
  });
  after(() => env.close());

  const jobCount = async () => (await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs`)).rows[0]?.n;

  // Bodies are written as JSON text: "\ud800" is how a client spells a lone surrogate (UTF-8 cannot carry one).
  const cases = (): { what: string; method: 'POST' | 'PATCH'; url: string; body: string; at: string; headers?: Record<string, string> }[] => [
    { what: 'bulk-update tags_add (was a 500)', method: 'POST', url: '/api/v1/leads/bulk-update', body: `{"lead_ids":[${leadId}],"set":{"tags_add":["\\ud800"]}}`, at: 'body.set.tags_add.0' },
    { what: 'bulk-update tags_remove, a lone low surrogate', method: 'POST', url: '/api/v1/leads/bulk-update', body: `{"lead_ids":[${leadId}],"set":{"tags_remove":["a\\udc00b"]}}`, at: 'body.set.tags_remove.0' },
    { what: 'import filename (was a 500)', method: 'POST', url: '/api/v1/leads/import', body: '{"leads":[{"phone":"+12125550101"}],"filename":"list\\ud800.csv"}', at: 'body.filename' },
    { what: 'a new lead\'s name', method: 'POST', url: '/api/v1/leads', body: '{"phone":"+12125550102","name":"Ann \\ud83d"}', at: 'body.name' },
    { what: 'a note', method: 'POST', url: `/api/v1/leads/${leadId}/notes`, body: '{"text":"\\udca5 boom"}', at: 'body.text' },
    { what: 'a key nobody reads', method: 'POST', url: '/api/v1/leads/bulk-delete', body: `{"lead_ids":[${leadId}],"x\\ud800":1}`, at: 'body.x\ud800' },
    { what: 'a business name (admin)', method: 'POST', url: '/api/v1/admin/businesses', body: '{"name":"Biz \\ud800"}', at: 'body.name', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
  ];

  test('each case is a 400 invalid_request at its path, and nothing is enqueued', async () => {
    const before = await jobCount();
    for (const c of cases()) {
      const res = await env.app.inject({ method: c.method, url: c.url, headers: { 'content-type': 'application/json', ...(c.headers ?? t.headers) }, payload: c.body });
      assert.equal(res.statusCode, 400, `${c.what}: ${res.body}`);
      const error = (res.json() as { error: { code: string; message: string; details: { issues: { path: string; message: string }[] } } }).error;
      assert.equal(error.code, 'invalid_request', c.what);
      assert.equal(error.details.issues[0]?.path, c.at, c.what);
      assert.match(error.message, /(lone UTF-16 surrogate|NUL character).*cannot be stored/, c.what);
    }
    assert.equal(await jobCount(), before);
  });

  test('surrogate pairs (emoji) are stored and read back unchanged', async () => {
    const res = await env.app.inject({ method: 'POST', url: '/api/v1/leads', headers: t.headers, payload: { phone: '+12125550103', name: 'Ann 💥𝕏', tags: ['🎉'] } });
    assert.equal(res.statusCode, 201, res.body);
    const lead = res.json() as { name: string; tags: string[] };
    assert.equal(lead.name, 'Ann 💥𝕏');
    assert.deepEqual(lead.tags, ['🎉']);
  });
});
