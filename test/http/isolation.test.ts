import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { JOB_STATUSES } from '../../src/jobs/types.js';
import twilio from 'twilio';
import { SIM_TWILIO_ACCOUNT_SID, SIM_TWILIO_AUTH_TOKEN } from '../../src/config/config.js';
import { collectRoutes, endpointKey, ENDPOINTS, pathOf, type Endpoint, type Method } from '../helpers/endpoints.js';
import { createTenant, startTestEnv, waitFor, waitForJob, type Tenant, type TestEnv } from '../helpers/harness.js';
import { liftRateLimits } from '../leads/helpers.js';
import { QUIET_CALLEES } from '../outbound/helpers.js';

/**
 * DESIGN.md invariant 6 through real HTTP: business B asking for anything of business A gets
 * exactly what it gets for an id that does not exist; B's lists never hold A's items, whatever
 * the filter; B's bulk jobs naming A's leads leave them alone and count them as failed; the gate
 * and idempotency keys are per business. A's jobs stay queued (no worker) until the last test,
 * which pauses them first so only B's jobs run.
 */
let env: TestEnv;
let a: Tenant;
let b: Tenant;

const MISSING = 9_000_000_000_000;
/** What each kind of path parameter looks like when nothing has it. */
const MISSING_PARAM: Record<NonNullable<Endpoint['owns']>, string> = {
  lead: String(MISSING), job: String(MISSING), import: String(MISSING), run: String(MISSING), broadcast: String(MISSING),
  call: `CA${'f'.repeat(32)}`, dnc: encodeURIComponent('+12125557999'), user: String(MISSING), token: String(MISSING),
  receipt: String(MISSING),
};

/** What A owns. */
const A = {
  manual: [] as number[],
  imported: [] as number[],
  receipts: [] as number[],
  importDone: 0,
  importQueued: 0,
  jobs: { importDone: 0, updateDone: 0, deleteQueued: 0, importQueued: 0, paused: 0, cancelled: 0, run: 0, broadcast: 0 },
  /** Completed calls with recordings, and one still ringing (inserted directly). */
  calls: [] as { id: number; sid: string }[],
  ringingCallId: 0,
  runs: [] as number[],
  broadcasts: [] as number[],
  dnc: ['+12125557001', '+12125557002', '+12125557003'],
  optOuts: ['+12125557011', '+12125557012'],
  /** Users A invited (agents), and A's API tokens: its own, one to revoke, one for scripts. */
  users: [] as number[],
  tokens: [] as number[],
  spareTokenId: 0,
};
/** What B owns; `doomed` are B's leads that B's own bulk delete removes. */
const B = {
  leads: [] as number[], doomed: [] as number[], imported: [] as number[], receipts: [] as number[], importId: 0,
  calls: [] as { id: number; sid: string }[], runId: 0, broadcastId: 0, dnc: ['+12125557101'], optOuts: ['+12125557111'],
};

/** Direct calls through the API (the simulator completes them in ~20 ms, with a recording), once settled. */
async function placeCalls(who: Tenant, leadIds: number[]): Promise<{ id: number; sid: string }[]> {
  const placed = (await expectStatus(call(who, 'POST', '/api/v1/outbound/calls', { lead_ids: leadIds }), 201)).calls as { id: number }[];
  const ids = placed.map((c) => c.id);
  return waitFor(async () => {
    const { rows } = await env.pool.query<{ id: number; sid: string }>(
      `SELECT id, call_sid AS sid FROM calls WHERE id = ANY($1::bigint[]) AND status = 'completed' AND recording_status = 'completed' ORDER BY id`, [ids],
    );
    return rows.length === ids.length && rows;
  }, `calls ${ids.join(', ')} completed with their recordings`);
}

interface Res {
  status: number;
  text: string;
  json: Record<string, unknown> | null;
  headers: Headers;
}

async function call(who: Tenant, method: Method, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const res = await fetch(`${env.baseUrl}${path}`, {
    method,
    headers: { ...who.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const isJson = (res.headers.get('content-type') ?? '').startsWith('application/json');
  return { status: res.status, text, json: isJson && text ? (JSON.parse(text) as Record<string, unknown>) : null, headers: res.headers };
}

async function expectStatus(res: Promise<Res>, status: number): Promise<Record<string, unknown>> {
  const r = await res;
  assert.equal(r.status, status, r.text);
  return r.json ?? {};
}

const num = (v: unknown): number => {
  assert.equal(typeof v, 'number', `expected a number, got ${JSON.stringify(v)}`);
  return v as number;
};
const errorOf = (r: Res) => (r.json?.error ?? {}) as { code?: string; details?: { job_id?: number; issues?: { path: string }[] } };

async function idsOf(sql: string, params: unknown[]): Promise<number[]> {
  const { rows } = await env.pool.query<{ id: number }>(sql, params);
  return rows.map((r) => r.id);
}

/**
 * A fingerprint of every row a business owns: each table with a business_id column, the
 * business itself, and the staged rows of its imports. Equal fingerprints: nothing of it changed.
 */
async function fingerprint(businessId: number): Promise<Record<string, string>> {
  const { rows: tables } = await env.pool.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.columns
      WHERE table_schema = current_schema() AND column_name = 'business_id' ORDER BY 1`,
  );
  const queries: Record<string, string> = {
    businesses: `SELECT t.* FROM businesses t WHERE t.id = $1`,
    import_chunks: `SELECT c.* FROM import_chunks c JOIN imports i ON i.id = c.import_id WHERE i.business_id = $1`,
  };
  for (const { name } of tables) queries[name] = `SELECT t.* FROM "${name}" t WHERE t.business_id = $1`;
  const out: Record<string, string> = {};
  for (const [name, sql] of Object.entries(queries)) {
    const { rows } = await env.pool.query<{ n: number; h: string }>(
      `SELECT count(*)::int AS n, md5(coalesce(string_agg(md5(x::text), ',' ORDER BY md5(x::text)), '')) AS h FROM (${sql}) x`,
      [businessId],
    );
    out[name] = `${rows[0]?.n} rows ${rows[0]?.h}`;
  }
  for (const table of ['leads', 'jobs', 'lead_notes', 'receipts', 'calls', 'outbound_runs', 'run_items', 'dnc_numbers', 'dialer_settings', 'whatsapp_broadcasts', 'whatsapp_recipients', 'whatsapp_opt_outs']) {
    assert.ok(out[table], `the fingerprint lost the tenant table ${table}`);
  }
  return out;
}

/** Every page of a list, 2 items at a time, so the cursor is exercised too. */
async function listAll<T = { id: number }>(who: Tenant, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1_000; page += 1) {
    // The path may carry a cursor of its own (a first page starting elsewhere); later pages replace it.
    const url = new URL(path, env.baseUrl);
    url.searchParams.set('limit', '2');
    if (cursor) url.searchParams.set('cursor', cursor);
    const body = await expectStatus(call(who, 'GET', `${url.pathname}${url.search}`), 200);
    items.push(...(body.items as T[]));
    cursor = body.next_cursor as string | null;
    if (!cursor) return items;
  }
  throw new Error(`${path}: more than 1000 pages`);
}

async function addChildren(who: Tenant, leadId: number): Promise<void> {
  await expectStatus(call(who, 'POST', `/api/v1/leads/${leadId}/notes`, { text: 'note' }), 201);
  await expectStatus(call(who, 'POST', `/api/v1/leads/${leadId}/activities`, { type: 'call', text: 'called' }), 201);
  await expectStatus(call(who, 'POST', `/api/v1/leads/${leadId}/reminders`, { due_at: '2030-01-01T10:00:00Z', text: 'again' }), 201);
}

before(async () => {
  env = await startTestEnv({ worker: false, listen: true, env: { JOB_BATCH_SIZE: '3', SIM_CALL_MS: '20', SIM_OUTCOMES: 'completed:1', ...QUIET_CALLEES } });
  a = await createTenant(env);
  b = await createTenant(env);
  await liftRateLimits(env, a);
  await liftRateLimits(env, b);
  await env.pool.query(
    `UPDATE businesses SET rate_limits = rate_limits || '{"enqueue_outbound_calls":1000,"broadcast_whatsapp":1000,"recording_download":1000}'::jsonb WHERE id = ANY($1::bigint[])`,
    [[a.businessId, b.businessId]],
  );

  for (let i = 0; i < 4; i += 1) {
    const lead = await expectStatus(call(a, 'POST', '/api/v1/leads', {
      phone: `+1212555${1000 + i}`, name: `Alice Lead ${i}`, email: `alice${i}@a.test`, status: 'hot', tags: ['vip', 'a-only'],
    }), 201);
    A.manual.push(num(lead.id));
    await addChildren(a, num(lead.id));
  }
  // B's first lead has A's first phone: phones are unique per business, not across businesses.
  for (let i = 0; i < 2; i += 1) {
    const lead = await expectStatus(call(b, 'POST', '/api/v1/leads', { phone: `+1212555${1000 + i}`, name: `Bob Lead ${i}`, status: 'hot', tags: ['vip'] }), 201);
    B.leads.push(num(lead.id));
    await addChildren(b, num(lead.id));
  }
  for (let i = 0; i < 2; i += 1) B.doomed.push(num((await expectStatus(call(b, 'POST', '/api/v1/leads', { phone: `+1212555${1100 + i}` }), 201)).id));

  const importA = await expectStatus(call(a, 'POST', '/api/v1/leads/import', {
    leads: Array.from({ length: 5 }, (_, i) => ({ phone: `+1212555${2000 + i}`, name: `Alice Imported ${i}`, tags: ['imported-a'] })), filename: 'a.csv',
  }), 202);
  A.importDone = num(importA.import_id);
  A.jobs.importDone = num(importA.job_id);
  const importB = await expectStatus(call(b, 'POST', '/api/v1/leads/import', { leads: [0, 1, 2].map((i) => ({ phone: `+1212555${3000 + i}` })) }), 202);
  B.importId = num(importB.import_id);
  A.jobs.updateDone = num((await expectStatus(call(a, 'POST', '/api/v1/leads/bulk-update', { lead_ids: A.manual, set: { tags_add: ['updated'] } }), 202)).job_id);
  for (let i = 0; i < 3; i += 1) {
    A.receipts.push(num((await expectStatus(call(a, 'POST', '/api/v1/receipts', { vendor: `A vendor ${i}`, amount: 10 + i, currency: 'USD', issued_at: '2024-05-01T10:00:00Z' }), 201)).id));
  }
  for (let i = 0; i < 2; i += 1) {
    B.receipts.push(num((await expectStatus(call(b, 'POST', '/api/v1/receipts', { vendor: `B vendor ${i}`, amount: 1, currency: 'EUR', issued_at: '2024-05-01T10:00:00Z' }), 201)).id));
  }

  // The completed jobs: run the worker only for these, then stop it.
  const worker = await env.startWorker();
  for (const id of [A.jobs.importDone, A.jobs.updateDone, num(importB.job_id)]) await waitForJob(env, id, 'completed');
  await worker.stop();
  A.imported = await idsOf(`SELECT id FROM leads WHERE business_id = $1 AND import_id = $2 ORDER BY id`, [a.businessId, A.importDone]);
  B.imported = await idsOf(`SELECT id FROM leads WHERE business_id = $1 AND import_id = $2 ORDER BY id`, [b.businessId, B.importId]);
  assert.equal(A.imported.length, 5);
  assert.equal(B.imported.length, 3);

  // Jobs that stay active: A's bulk delete holds the delete_leads_bulk lock (its target does not exist, so it would change nothing even if run).
  A.jobs.deleteQueued = num((await expectStatus(call(a, 'POST', '/api/v1/leads/bulk-delete', { lead_ids: [999_999_991] }), 202)).job_id);
  const queuedImport = await expectStatus(call(a, 'POST', '/api/v1/leads/import', { leads: [{ phone: '+12125554000' }] }), 202);
  A.importQueued = num(queuedImport.import_id);
  A.jobs.importQueued = num(queuedImport.job_id);
  A.jobs.paused = num((await expectStatus(call(a, 'POST', '/api/v1/leads/bulk-update', { lead_ids: A.manual, set: { status: 'cold' } }), 202)).job_id);
  await expectStatus(call(a, 'POST', `/api/v1/jobs/${A.jobs.paused}/pause`), 200);
  A.jobs.cancelled = num((await expectStatus(call(a, 'DELETE', '/api/v1/receipts'), 202)).job_id);
  await expectStatus(call(a, 'POST', `/api/v1/jobs/${A.jobs.cancelled}/cancel`), 200);

  // Outbound and WhatsApp. A's run and broadcast stay queued (no worker dials or sends); B's are cancelled, so B's
  // queued jobs are only the ones the last test runs.
  A.calls = await placeCalls(a, A.manual.slice(0, 2));
  B.calls = await placeCalls(b, B.leads.slice(0, 1));
  A.ringingCallId = num((await env.pool.query<{ id: number }>(
    `INSERT INTO calls (business_id, lead_id, from_number, to_number, status, call_sid) VALUES ($1, $2, '+15005550006', '+12125551003', 'ringing', $3) RETURNING id`,
    [a.businessId, A.manual[3], `CA${'7'.repeat(32)}`],
  )).rows[0]?.id);
  const runA = await expectStatus(call(a, 'POST', '/api/v1/outbound/runs', { lead_ids: A.manual }), 202);
  A.runs.push(num(runA.run_id));
  A.jobs.run = num(runA.job_id);
  const runB = await expectStatus(call(b, 'POST', '/api/v1/outbound/runs', { lead_ids: B.leads }), 202);
  B.runId = num(runB.run_id);
  await expectStatus(call(b, 'POST', `/api/v1/jobs/${num(runB.job_id)}/cancel`), 200);
  const broadcastA = await expectStatus(call(a, 'POST', '/api/v1/whatsapp/broadcasts', { text: 'A only', recipients: [{ phone: '+12125557020' }], lead_ids: A.manual.slice(0, 2) }), 202);
  A.broadcasts.push(num(broadcastA.broadcast_id));
  A.jobs.broadcast = num(broadcastA.job_id);
  const broadcastB = await expectStatus(call(b, 'POST', '/api/v1/whatsapp/broadcasts', { text: 'B only', recipients: [{ phone: '+12125557120' }], lead_ids: B.leads }), 202);
  B.broadcastId = num(broadcastB.broadcast_id);
  await expectStatus(call(b, 'POST', `/api/v1/jobs/${num(broadcastB.job_id)}/cancel`), 200);
  for (const phone of A.dnc) await expectStatus(call(a, 'POST', '/api/v1/outbound/dnc', { phone, reason: 'A only' }), 201);
  for (const phone of B.dnc) await expectStatus(call(b, 'POST', '/api/v1/outbound/dnc', { phone }), 201);
  for (const phone of A.optOuts) await expectStatus(call(a, 'POST', '/api/v1/whatsapp/opt-outs', { phone }), 201);
  for (const phone of B.optOuts) await expectStatus(call(b, 'POST', '/api/v1/whatsapp/opt-outs', { phone }), 201);
  await expectStatus(call(a, 'PATCH', '/api/v1/outbound/settings', { calling_hours: { start: '10:00', end: '11:00' }, retry: { busy: 3 }, max_call_s: 99 }), 200);

  // People: each business invites, mints tokens (so the lists below have more than one page of two).
  for (const who of ['ann', 'amy']) A.users.push(num(((await expectStatus(call(a, 'POST', '/api/v1/users', { email: `${who}@a.test`, role: 'agent' }), 201)).user as { id: unknown }).id));
  await expectStatus(call(b, 'POST', '/api/v1/users', { email: 'bob@b.test', role: 'agent' }), 201);
  // The spare is the token A's own DELETE revokes: never the one the tests sign A's requests with.
  A.spareTokenId = num((await expectStatus(call(a, 'POST', '/api/v1/tokens', { name: 'spare', role: 'agent' }), 201)).id);
  await expectStatus(call(a, 'POST', '/api/v1/tokens', { name: 'scripts', role: 'admin' }), 201);
  await expectStatus(call(b, 'POST', '/api/v1/tokens', { name: 'scripts', role: 'admin' }), 201);
  A.tokens = (await listAll(a, '/api/v1/tokens')).map((t) => t.id);
  assert.equal(A.tokens.length, 3);
});
after(() => env.close());

/** A valid body for each id route that takes one, so the only thing wrong is whose id it is. */
function bodyFor(e: Endpoint): unknown {
  if (e.url.endsWith('/notes')) return { text: 'from B' };
  if (e.url.endsWith('/activities')) return { type: 'call', text: 'from B' };
  if (e.url.endsWith('/reminders')) return { due_at: '2031-01-01T00:00:00Z', text: 'from B' };
  if (e.url === '/api/v1/users/:id') return { role: 'admin' };
  return undefined;
}

describe('tenant isolation', () => {
  test('every tenant route with an id is in the endpoint table with what it owns', async () => {
    const routes = await collectRoutes(env);
    const withId = [...routes.values()].filter((r) => r.url.startsWith('/api/v1/') && !r.url.startsWith('/api/v1/admin/') && r.url.includes(':'));
    for (const r of withId) {
      const key = endpointKey(r);
      assert.ok(ENDPOINTS.some((e) => endpointKey(e) === key && e.owns), `${key} takes an id but has no isolation probe (set "owns" in test/helpers/endpoints.ts)`);
    }
  });

  test("B asking for A's leads, imports, jobs, runs, calls, recordings, broadcasts, do-not-call numbers, users and tokens by id gets exactly the answer for one that does not exist", async () => {
    const targets: Record<NonNullable<Endpoint['owns']>, (number | string)[]> = {
      lead: [...A.manual, ...A.imported],
      import: [A.importDone, A.importQueued],
      job: Object.values(A.jobs),
      run: A.runs,
      call: [...A.calls.map((c) => c.sid), `CA${'7'.repeat(32)}`],
      broadcast: A.broadcasts,
      dnc: A.dnc.flatMap((p) => [encodeURIComponent(p), encodeURIComponent(`(${p.slice(2, 5)}) ${p.slice(5, 8)}-${p.slice(8)}`)]),
      user: [a.userId, ...A.users],
      token: A.tokens,
      receipt: A.receipts,
    };
    const before = await fingerprint(a.businessId);
    let probes = 0;
    for (const e of ENDPOINTS.filter((x) => x.owns)) {
      const owns = e.owns as NonNullable<Endpoint['owns']>;
      const body = bodyFor(e);
      const missing = await call(b, e.method, pathOf(e, MISSING_PARAM[owns]), body);
      assert.equal(missing.status, 404, `${endpointKey(e)} for a missing id: ${missing.text}`);
      assert.equal(errorOf(missing).code, 'not_found');
      const answers = await Promise.all(targets[owns].map((id) => call(b, e.method, pathOf(e, id), body)));
      answers.forEach((r, i) => {
        assert.equal(r.status, missing.status, `${endpointKey(e)} with A's ${owns} ${targets[owns][i]}: ${r.text}`);
        assert.deepEqual(r.json, missing.json, `${endpointKey(e)} with A's ${owns} ${targets[owns][i]}`);
        assert.equal(r.headers.get('content-type'), missing.headers.get('content-type'));
      });
      probes += answers.length;
    }
    assert.ok(probes >= 80, `only ${probes} probes`);

    // Provider callbacks name the business in their (signed) URL: one naming B never touches A's call, even ringing.
    const forB = `/webhooks/twilio/voice/status?b=${b.businessId}&call_id=${A.ringingCallId}`;
    const params = { AccountSid: SIM_TWILIO_ACCOUNT_SID, CallSid: `CA${'7'.repeat(32)}`, CallStatus: 'completed', CallDuration: '5' };
    const res = await fetch(`${env.baseUrl}${forB}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilio.getExpectedTwilioSignature(SIM_TWILIO_AUTH_TOKEN, `${env.baseUrl}${forB}`, params) },
      body: new URLSearchParams(params).toString(),
    });
    assert.equal(res.status, 204, await res.text());
    assert.deepEqual(await fingerprint(a.businessId), before, "B's probes changed something of A's");

    // The ids are real: A itself is answered (200, 202 for a recording being fetched, 204 for a removed number, or 409
    // for a transition its finished job cannot take).
    // A receipt of A's that came from Gmail with its PDF (issue 17), for the attachment route.
    const { rows: pdfReceipt } = await env.pool.query<{ id: number }>(
      `WITH r AS (INSERT INTO receipts (business_id, vendor, amount, currency, issued_at, source, gmail_message_id, has_attachment)
                  VALUES ($1, 'A vendor pdf', 1, 'ILS', now(), 'gmail', 'a-pdf', true) RETURNING id)
       INSERT INTO receipt_attachments (receipt_id, business_id, filename, content_type, bytes) SELECT id, $1, 'a.pdf', 'application/pdf', '\\x25504446'::bytea FROM r RETURNING receipt_id AS id`,
      [a.businessId],
    );
    const ownOf: Record<NonNullable<Endpoint['owns']>, number | string | undefined> = {
      lead: A.manual[0], import: A.importDone, job: A.jobs.importDone, run: A.runs[0], call: A.calls[0]?.sid, broadcast: A.broadcasts[0], dnc: encodeURIComponent(A.dnc[0] ?? ''),
      user: A.users[0], token: A.spareTokenId, receipt: pdfReceipt[0]?.id,
    };
    // The people routes have one answer each: an invited agent made admin, the spare token revoked.
    const exactly: Partial<Record<NonNullable<Endpoint['owns']>, number>> = { user: 200, token: 204 };
    for (const e of ENDPOINTS.filter((x) => x.owns)) {
      const owns = e.owns as NonNullable<Endpoint['owns']>;
      const own = await call(a, e.method, pathOf(e, ownOf[owns]), bodyFor(e));
      const allowed = exactly[owns] === undefined ? [200, 201, 202, 204, 409] : [exactly[owns]];
      assert.ok(allowed.includes(own.status), `${endpointKey(e)} for A's own ${e.owns}: ${own.status} ${own.text.slice(0, 200)}`);
    }
  });

  test("B's lists never hold A's items, under every filter, while A keeps writing", async () => {
    const aLeadFilters = ['tag=a-only', `import_id=${A.importDone}`, 'q=Alice', 'source=import&tag=imported-a'];
    // A's cursors are opaque but carry A's ids; in B's hands they must still page through B's items only.
    const aCursor = (await expectStatus(call(a, 'GET', '/api/v1/leads?limit=1'), 200)).next_cursor as string;
    const aReceiptCursor = (await expectStatus(call(a, 'GET', '/api/v1/receipts?limit=1'), 200)).next_cursor as string;
    const leadFilters = [
      '', 'status=hot', 'status=cold', 'status=new', 'source=manual', 'source=import', `import_id=${A.importDone}`, `import_id=${A.importQueued}`,
      `import_id=${B.importId}`, 'tag=vip', 'tag=a-only', 'tag=imported-a', 'tag=updated', 'q=Alice', 'q=Lead', 'q=212555',
      `q=${encodeURIComponent('(212) 555-1000')}`, 'q=a.test', 'status=hot&source=manual&tag=vip&q=Lead', `cursor=${aCursor}`,
    ];
    const jobTypes = ['import_leads', 'update_leads_bulk', 'delete_leads_bulk', 'delete_receipts_all'];
    const jobFilters = ['', ...JOB_STATUSES.map((s) => `status=${s}`), ...jobTypes.map((t) => `type=${t}`), ...JOB_STATUSES.flatMap((s) => jobTypes.map((t) => `status=${s}&type=${t}`))];
    const bLeads = new Set([...B.leads, ...B.doomed, ...B.imported]);
    const bJobs = new Set(await idsOf(`SELECT id FROM jobs WHERE business_id = $1`, [b.businessId]));
    const bReceipts = new Set(B.receipts);

    const probeAsB = async (): Promise<number> => {
      let seen = 0;
      for (const f of leadFilters) {
        for (const item of await listAll(b, `/api/v1/leads?${f}`)) {
          assert.ok(bLeads.has(item.id), `B's leads?${f} holds lead ${item.id}, not B's`);
          seen += 1;
        }
      }
      for (const f of jobFilters) {
        for (const item of await listAll(b, `/api/v1/jobs?${f}`)) assert.ok(bJobs.has(item.id), `B's jobs?${f} holds job ${item.id}, not B's`);
      }
      for (const path of ['/api/v1/receipts', `/api/v1/receipts?cursor=${aReceiptCursor}`]) {
        for (const item of await listAll(b, path)) assert.ok(bReceipts.has(item.id), `B's ${path} holds receipt ${item.id}, not B's`);
      }
      return seen;
    };
    // A adds leads that match B's filters (tag vip, status hot, "Lead" in the name), notes and receipts, all during B's probes.
    const writeAsA = async (): Promise<void> => {
      for (let i = 0; i < 12; i += 1) {
        const lead = await expectStatus(call(a, 'POST', '/api/v1/leads', { phone: `+1212555${5000 + i}`, name: `Alice Racer Lead ${i}`, status: 'hot', tags: ['vip'] }), 201);
        await expectStatus(call(a, 'POST', `/api/v1/leads/${num(lead.id)}/notes`, { text: 'racing' }), 201);
        await expectStatus(call(a, 'POST', '/api/v1/receipts', { vendor: 'Racer', amount: 1, currency: 'USD', issued_at: '2024-05-02T10:00:00Z' }), 201);
      }
    };
    const [seen] = await Promise.all([probeAsB(), writeAsA(), probeAsB()]);
    assert.ok(seen > 0, 'B saw none of its own leads: the probes prove nothing');

    // The same filters find A's items for A, so B's empty answers mean isolation, not a filter that matches nothing.
    const aLeads = new Set(await idsOf(`SELECT id FROM leads WHERE business_id = $1`, [a.businessId]));
    for (const f of aLeadFilters) {
      const items = await listAll(a, `/api/v1/leads?${f}`);
      assert.ok(items.length > 0, `A's leads?${f} is empty`);
      assert.ok(items.every((i) => aLeads.has(i.id)), `A's leads?${f} holds another business's lead`);
      assert.deepEqual(await listAll(b, `/api/v1/leads?${f}`), [], `B's leads?${f}`);
    }
    assert.deepEqual(await listAll(b, `/api/v1/leads?import_id=${A.importDone}`), await listAll(b, `/api/v1/leads?import_id=${MISSING}`));
  });

  test("B's calls, runs, do-not-call list, broadcasts, recipients, opt-outs and settings never show A's", async () => {
    type Call = { id: number; call_sid: string | null; lead_id: number | null };
    const cursorOf = async (path: string) => (await expectStatus(call(a, 'GET', `${path}${path.includes('?') ? '&' : '?'}limit=1`), 200)).next_cursor as string;
    // A's cursors carry A's positions; in B's hands they must still page through B's items only.
    const aCalls = await cursorOf('/api/v1/calls');
    const aDnc = await cursorOf('/api/v1/outbound/dnc');
    const aOptOuts = await cursorOf('/api/v1/whatsapp/opt-outs');
    assert.ok(aCalls && aDnc && aOptOuts, 'A has more than one of each');
    const bCalls = new Set(B.calls.map((c) => c.id));
    const expectOnly = async <T>(path: string, mine: (item: T) => boolean, what: string): Promise<number> => {
      const items = await listAll<T>(b, path);
      for (const item of items) assert.ok(mine(item), `B's ${path} holds ${what} ${JSON.stringify(item)}, not B's`);
      return items.length;
    };
    const callFilters = ['', 'status=completed', 'status=ringing', `lead_id=${A.manual[0]}`, `lead_id=${A.manual[3]}`, `lead_id=${B.leads[0]}`, `cursor=${aCalls}`];
    let seen = 0;
    for (const f of callFilters) seen += await expectOnly<Call>(`/api/v1/calls?${f}`, (c) => bCalls.has(c.id), 'call');
    assert.deepEqual(await listAll(b, `/api/v1/calls?lead_id=${A.manual[0]}`), [], "B's calls of A's lead");
    seen += await expectOnly<{ lead_id: number }>(`/api/v1/outbound/runs/${B.runId}/items`, (i) => B.leads.includes(i.lead_id), 'run item');
    for (const path of ['/api/v1/outbound/dnc', `/api/v1/outbound/dnc?cursor=${aDnc}`]) {
      seen += await expectOnly<{ phone: string }>(path, (d) => B.dnc.includes(d.phone), 'do-not-call number');
    }
    seen += await expectOnly<{ id: number }>('/api/v1/whatsapp/broadcasts', (x) => x.id === B.broadcastId, 'broadcast');
    seen += await expectOnly<{ id: number }>('/api/v1/outbound/runs', (x) => x.id === B.runId, 'run');
    for (const status of ['', 'status=queued', 'status=skipped', 'status=read']) {
      seen += await expectOnly<{ phone: string; lead_id: number | null }>(`/api/v1/whatsapp/broadcasts/${B.broadcastId}/recipients?${status}`, (r) => r.lead_id === null ? r.phone === '+12125557120' : B.leads.includes(r.lead_id), 'recipient');
    }
    for (const path of ['/api/v1/whatsapp/opt-outs', `/api/v1/whatsapp/opt-outs?cursor=${aOptOuts}`]) {
      seen += await expectOnly<{ phone: string }>(path, (o) => B.optOuts.includes(o.phone), 'opt-out');
    }
    assert.ok(seen >= 10, `B saw only ${seen} of its own items: the probes prove little`);

    const active = await expectStatus(call(b, 'GET', '/api/v1/outbound/active'), 200);
    assert.deepEqual([active.active, active.calls], [0, []], "B's active calls hold A's ringing one");
    assert.equal((await expectStatus(call(a, 'GET', '/api/v1/outbound/active'), 200)).active, 1, "A's ringing call is active for A");
    const settings = await expectStatus(call(b, 'GET', '/api/v1/outbound/settings'), 200);
    assert.notEqual(settings.max_call_s, 99, "B's settings are A's");
    assert.equal((settings.calling_hours as { default?: boolean }).default, true, "B's calling hours are A's");
    assert.deepEqual((settings.retry as { busy: number }).busy, 0);
    // B's own change stays B's.
    await expectStatus(call(b, 'PATCH', '/api/v1/outbound/settings', { max_call_s: 77 }), 200);
    assert.equal((await expectStatus(call(a, 'GET', '/api/v1/outbound/settings'), 200)).max_call_s, 99);

    // The same lists show A its own, so B's answers mean isolation, not empty lists.
    assert.equal((await listAll(a, '/api/v1/calls')).length, A.calls.length + 1);
    assert.ok((await listAll<{ phone: string }>(a, '/api/v1/outbound/dnc')).every((d) => A.dnc.includes(d.phone)));
    assert.deepEqual((await listAll(a, '/api/v1/whatsapp/broadcasts')).map((x) => x.id), A.broadcasts);
    assert.deepEqual((await listAll<{ id: number }>(a, '/api/v1/outbound/runs')).map((x) => x.id), [...A.runs].reverse());
    assert.deepEqual((await listAll<{ phone: string }>(a, '/api/v1/whatsapp/opt-outs')).map((o) => o.phone), A.optOuts);
  });

  test("B's users, tokens and audit trail never show A's, under every filter, while A keeps inviting and minting", async () => {
    const cursorOf = async (path: string) => (await expectStatus(call(a, 'GET', `${path}?limit=1`), 200)).next_cursor as string;
    // A's cursors carry A's positions; in B's hands they must still page through B's items only.
    const aUsers = await cursorOf('/api/v1/users');
    const aTokens = await cursorOf('/api/v1/tokens');
    const aAudit = await cursorOf('/api/v1/audit');
    assert.ok(aUsers && aTokens && aAudit, 'A has more than one of each');
    const auditFilters = [
      '', `user_id=${a.userId}`, `user_id=${b.userId}`, 'action=user.invite', 'action=token.create', 'action=job.accepted', 'action=business.create',
      'target_type=user', 'target_type=token', `target_type=user&target_id=${A.users[0]}`, `target_type=token&target_id=${A.spareTokenId}`,
      `target_type=business&target_id=${a.businessId}`, `cursor=${aAudit}`, `action=user.invite&cursor=${aAudit}`,
    ];
    const seen = { users: [] as number[], tokens: [] as number[], audit: [] as number[] };
    const probeAsB = async (): Promise<void> => {
      for (const path of ['/api/v1/users', `/api/v1/users?cursor=${aUsers}`]) seen.users.push(...(await listAll(b, path)).map((u) => u.id));
      for (const path of ['/api/v1/tokens', `/api/v1/tokens?cursor=${aTokens}`]) seen.tokens.push(...(await listAll(b, path)).map((x) => x.id));
      for (const f of auditFilters) seen.audit.push(...(await listAll(b, `/api/v1/audit?${f}`)).map((x) => x.id));
    };
    // A invites and mints (each audited) during B's probes.
    const writeAsA = async (): Promise<void> => {
      for (let i = 0; i < 6; i += 1) {
        await expectStatus(call(a, 'POST', '/api/v1/users', { email: `racer${i}@a.test`, role: 'agent' }), 201);
        await expectStatus(call(a, 'POST', '/api/v1/tokens', { name: `racer ${i}`, role: 'agent' }), 201);
      }
    };
    await Promise.all([probeAsB(), writeAsA(), probeAsB()]);
    /** The ids among `ids` that belong to a business other than `owner`, asked of the database. */
    const notOf = (owner: number, table: string, ids: number[]) => idsOf(`SELECT id FROM ${table} WHERE id = ANY($1::bigint[]) AND business_id <> $2`, [ids, owner]);
    assert.deepEqual(await notOf(b.businessId, 'users', seen.users), [], "B's users list holds another business's users");
    assert.deepEqual(await notOf(b.businessId, 'api_tokens', seen.tokens), [], "B's tokens list holds another business's tokens");
    assert.deepEqual(await notOf(b.businessId, 'audit_log', seen.audit), [], "B's audit trail holds another business's entries");
    assert.ok(seen.users.length >= 4 && seen.tokens.length >= 4 && seen.audit.length >= 10, `B saw too little of its own to prove anything: ${JSON.stringify(seen)}`);

    // The same filters find A's entries for A, so B's empty answers mean isolation, not a filter that matches nothing.
    for (const f of [`user_id=${a.userId}`, `target_type=user&target_id=${A.users[0]}`, `target_type=token&target_id=${A.spareTokenId}`, `target_type=business&target_id=${a.businessId}`]) {
      const mine = (await listAll(a, `/api/v1/audit?${f}`)).map((x) => x.id);
      assert.ok(mine.length > 0, `A's audit?${f} is empty`);
      assert.deepEqual(await notOf(a.businessId, 'audit_log', mine), [], `A's audit?${f} holds another business's entries`);
      assert.deepEqual(await listAll(b, `/api/v1/audit?${f}`), [], `B's audit?${f}`);
    }
    const aUserIds = (await listAll(a, '/api/v1/users')).map((u) => u.id);
    assert.ok([a.userId, ...A.users].every((id) => aUserIds.includes(id)), "A's users list lacks A's users");
  });

  test('the gate, dedup and Idempotency-Key are per business', async () => {
    // A's lock is real: A's second bulk delete is refused, naming A's job…
    const aAgain = await call(a, 'POST', '/api/v1/leads/bulk-delete', { lead_ids: [999_999_992] });
    assert.equal(aAgain.status, 429, aAgain.text);
    assert.equal(errorOf(aAgain).code, 'operation_in_progress');
    assert.equal(errorOf(aAgain).details?.job_id, A.jobs.deleteQueued);
    // …and it does not block B, even fired at the same moment as A's next refused attempt.
    const [bDelete, aRefused] = await Promise.all([
      call(b, 'POST', '/api/v1/leads/bulk-delete', { lead_ids: [...A.manual, ...A.imported, ...B.doomed] }),
      call(a, 'POST', '/api/v1/leads/bulk-delete', { lead_ids: [999_999_993] }),
    ]);
    assert.equal(bDelete.status, 202, bDelete.text);
    assert.equal(aRefused.status, 429, aRefused.text);
    assert.notEqual(bDelete.json?.job_id, A.jobs.deleteQueued);
    // B's own lock names B's job, never A's.
    const bAgain = await call(b, 'POST', '/api/v1/leads/bulk-delete', { lead_ids: [B.leads[0]] });
    assert.equal(bAgain.status, 429, bAgain.text);
    assert.equal(errorOf(bAgain).details?.job_id, bDelete.json?.job_id);

    // One Idempotency-Key, one body, both businesses at once: each gets its own job and import.
    const key = { 'idempotency-key': 'shared-key-1' };
    const body = { leads: [{ phone: '+12125559000' }], filename: 'same.csv' };
    const [ia, ib] = await Promise.all([call(a, 'POST', '/api/v1/leads/import', body, key), call(b, 'POST', '/api/v1/leads/import', body, key)]);
    assert.equal(ia.status, 202, ia.text);
    assert.equal(ib.status, 202, ib.text);
    assert.notEqual(ia.json?.job_id, ib.json?.job_id);
    assert.notEqual(ia.json?.import_id, ib.json?.import_id);
    // Replays stay within each business.
    const [ia2, ib2] = await Promise.all([call(a, 'POST', '/api/v1/leads/import', body, key), call(b, 'POST', '/api/v1/leads/import', body, key)]);
    assert.deepEqual([ia2.status, ia2.json], [202, ia.json]);
    assert.deepEqual([ib2.status, ib2.json], [202, ib.json]);
    assert.equal((await call(b, 'GET', `/api/v1/jobs/${String(ia.json?.job_id)}`)).status, 404);
    assert.equal((await call(b, 'GET', `/api/v1/imports/${String(ia.json?.import_id)}`)).status, 404);
    const bJob = await expectStatus(call(b, 'GET', `/api/v1/jobs/${String(ib.json?.job_id)}`), 200);
    assert.equal(bJob.created_by, b.userId);

    // A key only A has used is free for B with any body (not A's 422).
    await expectStatus(call(a, 'POST', '/api/v1/leads/import', { leads: [{ phone: '+12125559001' }] }, { 'idempotency-key': 'a-only-key' }), 202);
    await expectStatus(call(b, 'POST', '/api/v1/leads/import', { leads: [{ phone: '+12125559002' }] }, { 'idempotency-key': 'a-only-key' }), 202);

    // Dedup without a key: the same import from both businesses at once is two imports.
    const same = { leads: [{ phone: '+12125559003' }] };
    const [da, db] = await Promise.all([call(a, 'POST', '/api/v1/leads/import', same), call(b, 'POST', '/api/v1/leads/import', same)]);
    assert.deepEqual([da.status, db.status], [202, 202], `${da.text} ${db.text}`);
    // …while the same business repeating it is a duplicate, so the check above can fail.
    const dup = await call(b, 'POST', '/api/v1/leads/import', same);
    assert.equal(dup.status, 429, dup.text);
    assert.equal(errorOf(dup).code, 'duplicate_request');
    assert.equal(errorOf(dup).details?.job_id, db.json?.job_id);
  });

  test("B's bulk jobs naming A's leads run to completion, leave A untouched and count A's ids as failed", async () => {
    // Only B's jobs may run: A pauses everything it has queued (paused jobs keep their locks).
    for (const job of await listAll(a, '/api/v1/jobs?status=queued')) await expectStatus(call(a, 'POST', `/api/v1/jobs/${job.id}/pause`), 200);
    const aBefore = await fingerprint(a.businessId);
    const aIds = [...A.manual, ...A.imported];

    const refusedImport = await call(b, 'POST', '/api/v1/leads/imported/bulk-delete', { import_id: A.importDone });
    const missingImport = await call(b, 'POST', '/api/v1/leads/imported/bulk-delete', { import_id: MISSING });
    assert.equal(refusedImport.status, 404, refusedImport.text);
    assert.deepEqual(refusedImport.json, missingImport.json);
    const foreignOwner = await call(b, 'POST', '/api/v1/leads/bulk-update', { lead_ids: B.leads, set: { owner_user_id: a.userId } });
    assert.equal(foreignOwner.status, 400, foreignOwner.text);
    assert.ok(errorOf(foreignOwner).details?.issues?.some((i) => i.path === 'body.set.owner_user_id'), foreignOwner.text);

    // B's queued jobs (its bulk delete, its imports) run too, and must be done before "all imported" runs.
    // (Not the transcriptions of B's recorded calls: their queue has its own worker, not started here.)
    const bQueued = (await listAll<{ id: number; type: string }>(b, '/api/v1/jobs?status=queued')).filter((j) => j.type !== 'transcribe_call').map((j) => j.id);
    const bDelete = num((await listAll(b, '/api/v1/jobs?status=queued&type=delete_leads_bulk'))[0]?.id);
    const [update, importedById, receipts] = await Promise.all([
      expectStatus(call(b, 'POST', '/api/v1/leads/bulk-update', { lead_ids: [...aIds, B.leads[0]], set: { status: 'pwned', tags_add: ['pwned'], owner_user_id: null } }), 202),
      expectStatus(call(b, 'POST', '/api/v1/leads/imported/bulk-delete', { lead_ids: [...A.imported, B.imported[0]] }), 202),
      expectStatus(call(b, 'DELETE', '/api/v1/receipts'), 202),
    ]);
    const worker = await env.startWorker();
    for (const id of bQueued) await waitForJob(env, id, 'completed');
    const done = {
      delete: await waitForJob(env, bDelete, 'completed'),
      update: await waitForJob(env, num(update.job_id), 'completed'),
      importedById: await waitForJob(env, num(importedById.job_id), 'completed'),
      receipts: await waitForJob(env, num(receipts.job_id), 'completed'),
    };
    // With the by-ids job done its lock is free: now every imported lead of B's, by query.
    const all = await expectStatus(call(b, 'POST', '/api/v1/leads/imported/bulk-delete', { all: true }), 202);
    const allDone = await waitForJob(env, num(all.job_id), 'completed');
    await worker.stop();

    assert.deepEqual([done.delete.succeeded, done.delete.failed], [B.doomed.length, aIds.length], 'bulk delete');
    assert.deepEqual([done.update.succeeded, done.update.failed], [1, aIds.length], 'bulk update');
    assert.deepEqual([done.importedById.succeeded, done.importedById.failed], [1, A.imported.length], 'imported by ids');
    assert.equal(allDone.failed, 0);
    assert.equal(done.receipts.succeeded, B.receipts.length);
    assert.deepEqual(await idsOf(`SELECT id FROM leads WHERE business_id = $1 AND source = 'import'`, [b.businessId]), [], "B's imported leads are gone");
    assert.deepEqual(await idsOf(`SELECT id FROM receipts WHERE business_id = $1`, [b.businessId]), [], "B's receipts are gone");
    assert.deepEqual(await idsOf(`SELECT id FROM leads WHERE id = ANY($1::bigint[])`, [B.doomed]), [], "B's doomed leads are gone");
    assert.deepEqual(await fingerprint(a.businessId), aBefore, "B's jobs changed something of A's");
    assert.equal(await idsOf(`SELECT id FROM leads WHERE id = ANY($1::bigint[])`, [aIds]).then((ids) => ids.length), aIds.length);
  });
});
