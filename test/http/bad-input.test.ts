import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test, type TestContext } from 'node:test';
import fc from 'fast-check';
import twilio from 'twilio';
import { z } from 'zod';
import { SIM_TWILIO_ACCOUNT_SID, SIM_TWILIO_AUTH_TOKEN, SIM_WHATSAPP_APP_SECRET } from '../../src/config/config.js';
import { RECIPIENT_STATUSES } from '../../src/broadcasts/recipient-status.js';
import { readJsonImport } from '../../src/leads/import-body.js';
import { parseCsvImport } from '../../src/leads/import-csv.js';
import { normalizePhone } from '../../src/leads/phone.js';
import { isOutboundModule } from '../../src/outbound/module.js';
import { signBody } from '../../src/providers/whatsapp/signature.js';
import { buildEnvelope, WebhookEnvelope } from '../../src/providers/whatsapp/webhook-payload.js';
import { collectRoutes, endpoint, endpointKey, ENDPOINTS, paramOf, pathOf, type Endpoint, type Method, type RegisteredRoute } from '../helpers/endpoints.js';
import { ADMIN_TOKEN, createTenant, startTestEnv, waitFor, type Tenant, type TestEnv } from '../helpers/harness.js';
import { liftRateLimits, seedLeads } from '../leads/helpers.js';
import { QUIET_CALLEES } from '../outbound/helpers.js';
import { signIn, type Session } from '../people/helpers.js';

/**
 * DESIGN.md invariant 8 on every endpoint: generated bad input (fast-check) gets a 4xx in the
 * error envelope — a 400 names the bad fields in details.issues — and changes nothing in any
 * table. Each endpoint also answers one valid request, so a refusal cannot come from an endpoint
 * that is simply broken. No worker runs: accepted jobs stay queued and change nothing later.
 *
 * Every generated request is classified by an oracle (the route's own zod schema, the import
 * body reader, the phone normalizer, the fixture's ids) and only requests the oracle calls bad
 * are sent, each with the exact status it must get. BAD_INPUT_RUNS and BAD_INPUT_SEED replay a run;
 * BAD_INPUT_STATS=1 prints how many cases of each kind were sent.
 */
const RUNS = Number(process.env.BAD_INPUT_RUNS ?? 60);
const SEED = process.env.BAD_INPUT_SEED === undefined ? undefined : Number(process.env.BAD_INPUT_SEED);
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const JSON_CT = { 'content-type': 'application/json' };

let env: TestEnv;
let routes: Map<string, RegisteredRoute>;
let t: Tenant;
let other: Tenant;
/** The tenant's fixture: ids the generators aim at. */
const fx = {
  leadId: 0, importId: 0, cancelledJobId: 0, queuedJobId: 0, otherImportId: 0, otherLeadId: 0, otherJobId: 0,
  /** A lead whose phone is on the do-not-call list. */
  dncLeadId: 0, dncPhone: '+12125550150', optOutPhone: '+12125550190',
  runId: 0, broadcastId: 0,
  /** A completed call with a recording, and a busy one without. */
  callId: 0, callSid: '', busyCallSid: '',
  /** A call still ringing (inserted directly): forged callbacks aim at it, a change would show. */
  ringingCallId: 0, ringingCallSid: `CA${'7'.repeat(32)}`,
};
/** The tenant's leads, reloaded before each endpoint's test (oracles ask whose a lead id is). */
let tenantLeads = new Set<number>();
let sent = 0;

const SETTLED_CALL = `status IN ('completed', 'busy', 'no-answer', 'failed', 'canceled') AND (status <> 'completed' OR recording_status = 'completed')`;

/**
 * What an earlier endpoint's valid request started in the background (a placed call ends, its
 * recording arrives, the recording queues its transcription) must not land between this
 * endpoint's two snapshots (CI: a transcript and a job appeared during GET /api/v1/calls). Waits
 * until every call but the ringing fixture is settled and each recorded one has its transcript.
 */
async function quiesce(): Promise<void> {
  await waitFor(async () => {
    const { rows } = await env.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM calls c
        WHERE c.id <> $1
          AND (NOT (${SETTLED_CALL}) OR (c.recording_status = 'completed' AND NOT EXISTS (SELECT 1 FROM transcripts x WHERE x.call_id = c.id)))`,
      [fx.ringingCallId],
    );
    return rows[0]?.n === 0;
  }, 'the calls earlier requests placed settled', 15_000);
}

/** Waits until the calls' provider callbacks are all in: later snapshots must see a quiet database. */
async function waitForSettledCalls(ids: number[]): Promise<void> {
  await waitFor(async () => {
    const { rows } = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM calls WHERE id = ANY($1::bigint[]) AND ${SETTLED_CALL}`, [ids]);
    return rows[0]?.n === ids.length;
  }, `calls ${ids.join(', ')} settled`, 15_000);
}

async function loadTenantLeads(): Promise<void> {
  const { rows } = await env.pool.query<{ id: number }>(`SELECT id FROM leads WHERE business_id = $1`, [t.businessId]);
  tenantLeads = new Set(rows.map((r) => r.id));
}

before(async () => {
  // Calls end at once and all complete with a recording (the busy fixture is forced below).
  env = await startTestEnv({ worker: false, listen: true, env: { SIM_CALL_MS: '20', SIM_OUTCOMES: 'completed:1', ...QUIET_CALLEES } });
  routes = await collectRoutes(env);
  t = await createTenant(env);
  other = await createTenant(env);
  await liftRateLimits(env, t);
  await liftRateLimits(env, other);
  fx.leadId = (await ok(t, 'POST', '/api/v1/leads', { phone: '+12125550100', name: 'Fixture' }, 201)).id;
  const imp = await ok(t, 'POST', '/api/v1/leads/import', { leads: [{ phone: '+12125550199' }], filename: 'fixture.csv' }, 202);
  fx.importId = imp.import_id;
  fx.queuedJobId = imp.job_id;
  await seedLeads(env, t, 3, { start: 9000, source: 'import', importId: fx.importId, children: true });
  fx.cancelledJobId = (await ok(t, 'POST', '/api/v1/leads/bulk-delete', { lead_ids: [999_999_999] }, 202)).job_id;
  await ok(t, 'POST', `/api/v1/jobs/${fx.cancelledJobId}/cancel`, undefined, 200);
  const otherImport = await ok(other, 'POST', '/api/v1/leads/import', { leads: [{ phone: '+12125550198' }] }, 202);
  fx.otherImportId = otherImport.import_id;
  fx.otherJobId = otherImport.job_id;
  fx.otherLeadId = (await ok(other, 'POST', '/api/v1/leads', { phone: '+12125550100' }, 201)).id;
  await env.pool.query(
    `UPDATE businesses SET rate_limits = rate_limits || '{"enqueue_outbound_calls":1000,"broadcast_whatsapp":1000,"recording_download":1000,"transcribe_calls_bulk":1000}'::jsonb WHERE id = ANY($1::bigint[])`,
    [[t.businessId, other.businessId]],
  );

  // Outbound: a do-not-call lead, a queued run, a completed call with a recording, a busy one, a ringing one.
  fx.dncLeadId = (await ok(t, 'POST', '/api/v1/leads', { phone: fx.dncPhone }, 201)).id;
  await ok(t, 'POST', '/api/v1/outbound/dnc', { phone: fx.dncPhone, reason: 'asked' }, 201);
  fx.runId = (await ok(t, 'POST', '/api/v1/outbound/runs', { lead_ids: [fx.leadId, fx.dncLeadId] }, 202)).run_id;
  const sim = env.modules.find(isOutboundModule)?.simulator;
  assert.ok(sim, 'the outbound module runs an in-process simulator');
  const busyLead = (await ok(t, 'POST', '/api/v1/leads', { phone: '+12125550160' }, 201)).id;
  sim.faults.outcomeFor = (to) => (to === '+12125550160' ? 'busy' : undefined);
  const placed = (await ok(t, 'POST', '/api/v1/outbound/calls', { lead_ids: [fx.leadId, busyLead] }, 201)).calls;
  await waitForSettledCalls(placed.map((c) => c.id));
  sim.faults.outcomeFor = null;
  const { rows: calls } = await env.pool.query<{ id: number; call_sid: string; lead_id: number }>(
    `SELECT id, call_sid, lead_id FROM calls WHERE id = ANY($1::bigint[])`, [placed.map((c) => c.id)],
  );
  fx.callId = calls.find((c) => c.lead_id === fx.leadId)?.id ?? 0;
  fx.callSid = calls.find((c) => c.lead_id === fx.leadId)?.call_sid ?? '';
  fx.busyCallSid = calls.find((c) => c.lead_id === busyLead)?.call_sid ?? '';
  fx.ringingCallId = (await env.pool.query<{ id: number }>(
    `INSERT INTO calls (business_id, from_number, to_number, status, call_sid) VALUES ($1, '+15005550006', '+12125550170', 'ringing', $2) RETURNING id`,
    [t.businessId, fx.ringingCallSid],
  )).rows[0]?.id ?? 0;
  assert.ok(fx.runId && fx.callSid && fx.busyCallSid && fx.ringingCallId, JSON.stringify(fx));

  // WhatsApp: a broadcast (its job cancelled: one active broadcast per business) and an opt-out.
  const broadcast = await ok(t, 'POST', '/api/v1/whatsapp/broadcasts', { text: 'fixture', recipients: [{ phone: '+12125550180' }], lead_ids: [fx.leadId] }, 202);
  fx.broadcastId = broadcast.broadcast_id;
  await ok(t, 'POST', `/api/v1/jobs/${broadcast.job_id}/cancel`, undefined, 200);
  await ok(t, 'POST', '/api/v1/whatsapp/opt-outs', { phone: fx.optOutPhone }, 201);

  await makePeople();
});
after(() => {
  if (process.env.BAD_INPUT_STATS) console.log([...labels].sort().map(([k, n]) => `${n}\t${k}`).join('\n'));
  return env.close();
});

// ---------------------------------------------------------------------------------------------
// Requests, answers and the envelope.

interface Req {
  method: Method | 'PUT';
  url: string;
  headers?: Record<string, string>;
  payload?: string;
}

interface Expect {
  status: number;
  /** A 400 must name a field at or under this path (`body`, `querystring.limit`). */
  at?: string;
  code?: string;
}

interface Case extends Req {
  label: string;
  expect: Expect;
}

interface Created {
  id: number;
  job_id: number;
  import_id: number;
  run_id: number;
  broadcast_id: number;
  calls: { id: number; lead_id: number }[];
}

async function ok(who: Tenant, method: Method, url: string, body: unknown, status: number): Promise<Created> {
  const res = await env.app.inject({ method, url, headers: who.headers, ...(body === undefined ? {} : { payload: body as object }) });
  assert.equal(res.statusCode, status, `${method} ${url}: ${res.body}`);
  return res.json();
}

function authOf(e: Endpoint): Record<string, string> {
  if (e.auth === 'admin') return { authorization: `Bearer ${ADMIN_TOKEN}` };
  return e.auth === 'tenant' ? t.headers : {};
}

async function send(e: Endpoint, r: Req, auth = authOf(e)) {
  sent += 1;
  return env.app.inject({ method: r.method, url: r.url, headers: { ...auth, ...r.headers }, ...(r.payload === undefined ? {} : { payload: r.payload }) });
}

function describeCase(c: Req & { label?: string }, status: number, body: string): string {
  const payload = c.payload === undefined ? '' : ` ${c.payload.length > 300 ? `${c.payload.slice(0, 300)}… (${c.payload.length} chars)` : c.payload}`;
  return `[${c.label ?? ''}] ${c.method} ${c.url.slice(0, 300)} ${JSON.stringify(c.headers ?? {}).slice(0, 300)}${payload}\n  → ${status} ${body.slice(0, 600)}`;
}

/** The contract for every refusal: a 4xx, the envelope, and for a 400 the issues by path. */
function assertRefusal(status: number, text: string, contentType: unknown, expect: Expect, where: string): void {
  assert.ok(status >= 400 && status < 500, `not a 4xx: ${where}`);
  assert.equal(status, expect.status, where);
  assert.match(String(contentType), /^application\/json/, where);
  const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: { issues?: unknown } } };
  const error = body.error;
  assert.ok(error && typeof error === 'object', where);
  assert.ok(typeof error.code === 'string' && /^[a-z][a-z0-9_]*$/.test(error.code), `code: ${where}`);
  assert.ok(typeof error.message === 'string' && error.message.trim().length > 0, `message: ${where}`);
  if (expect.code) assert.equal(error.code, expect.code, where);
  if (status === 400) {
    assert.equal(error.code, 'invalid_request', where);
    const issues = error.details?.issues;
    assert.ok(Array.isArray(issues) && issues.length > 0, `details.issues: ${where}`);
    for (const issue of issues as { path?: unknown; message?: unknown }[]) {
      assert.ok(typeof issue.path === 'string' && issue.path.length > 0, `issue path: ${where}`);
      assert.ok(typeof issue.message === 'string' && issue.message.length > 0, `issue message: ${where}`);
    }
    const at = expect.at;
    if (at) {
      assert.ok((issues as { path: string }[]).some((i) => i.path === at || i.path.startsWith(`${at}.`)), `an issue at ${at}: ${where}`);
    }
  }
}

const labels = new Map<string, number>();
async function expectRefused(e: Endpoint, c: Case, auth?: Record<string, string>): Promise<void> {
  if (process.env.BAD_INPUT_STATS) labels.set(`${endpointKey(e)} ${c.label} ${c.expect.status}`, (labels.get(`${endpointKey(e)} ${c.label} ${c.expect.status}`) ?? 0) + 1);
  const res = await send(e, c, auth);
  assertRefusal(res.statusCode, res.body, res.headers['content-type'], c.expect, describeCase(c, res.statusCode, res.body));
}

// ---------------------------------------------------------------------------------------------
// "Nothing changed": every table's row count and content hash.

/** The tables the brief names (import rows are staged in import_chunks); a rename must show up here. */
const TRACKED = [
  'leads', 'lead_notes', 'lead_activities', 'lead_reminders', 'imports', 'import_chunks', 'receipts', 'jobs', 'idempotency_keys', 'businesses', 'users', 'api_tokens',
  'calls', 'outbound_runs', 'run_items', 'dnc_numbers', 'dialer_settings', 'dialer_cps',
  'whatsapp_broadcasts', 'whatsapp_recipients', 'whatsapp_opt_outs', 'whatsapp_pacing', 'whatsapp_pending_statuses',
  'sessions', 'login_failures', 'audit_log',
];

/**
 * Bookkeeping every authenticated request may write, refused or not: a token's last_used_at and a
 * session's last_seen_at, at most once a minute (src/people/identity.repo.ts). Left out of the
 * hashes: a run crossing that minute is not a refused request changing something.
 */
const TOUCHED_ON_USE = ['last_used_at', 'last_seen_at'];

let snapshotSql: string | undefined;

/** Every table's row count and content hash, in one statement (one round trip, not one per table). */
async function snapshot(): Promise<Record<string, string>> {
  if (!snapshotSql) {
    const { rows: tables } = await env.pool.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`,
    );
    snapshotSql = tables.map(({ name }) => `SELECT ${pgString(name)} AS name, count(*)::int AS n,
        md5(coalesce(string_agg(x.h, ',' ORDER BY x.h), '')) AS h
       FROM (SELECT md5((to_jsonb(t) - $1::text[])::text) AS h FROM ${pgIdent(name)} t) x`).join('\nUNION ALL\n');
  }
  const { rows } = await env.pool.query<{ name: string; n: number; h: string }>(snapshotSql, [TOUCHED_ON_USE]);
  const out: Record<string, string> = {};
  for (const r of rows) out[r.name] = `${r.n} rows ${r.h}`;
  for (const table of TRACKED) assert.ok(out[table], `table ${table} is not in the schema any more`);
  return out;
}

const pgIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;
const pgString = (text: string): string => `'${text.replaceAll("'", "''")}'`;

// ---------------------------------------------------------------------------------------------
// Oracles and generators.

function zodOf(e: Endpoint, part: 'body' | 'querystring' | 'params' | 'headers'): z.ZodType {
  const schema = routes.get(endpointKey(e))?.schema?.[part];
  assert.ok(schema instanceof z.ZodType, `${endpointKey(e)} has no zod ${part} schema`);
  return schema;
}

/** U+0000 or a lone UTF-16 surrogate: what the API's text guard refuses, in values and keys alike. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const unstorable = (s: string): boolean => s.includes('\u0000') || LONE_SURROGATE.test(s);
function hasUnstorable(v: unknown): boolean {
  if (typeof v === 'string') return unstorable(v);
  if (Array.isArray(v)) return v.some(hasUnstorable);
  if (v !== null && typeof v === 'object') return Object.entries(v).some(([k, x]) => unstorable(k) || hasUnstorable(x));
  return false;
}

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const encodable = (s: string): boolean => {
  try {
    encodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
};

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v) ?? 'undefined').toString('base64url');

/** Strings a client should not send but might: odd unicode, control characters, injections, lengths. */
const ODD = [
  '', ' ', '\t\n', '\u0000', 'a\u0000b', '\u202eevil', '\u200b', '\ufeff', 'e\u0301', '\ud800', 'a\udc00b',
  '💥'.repeat(60), 'x'.repeat(10_001), "'; DROP TABLE leads; --", '%00', '../../etc/passwd', '__proto__', '{{7*7}}', '${x}',
];
const oddString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(...ODD),
);
/** The same for URLs and headers: only what percent-encoding can carry. */
const urlString = oddString.filter(encodable);
const hugeNumber = fc.constantFrom(2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 1e21, 1e308, -1e308, -1, 0, -0, 0.5, 1.5, Number.MIN_VALUE, -(2 ** 53));
const garbage: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  hugeNumber,
  fc.boolean(),
  fc.constant(null),
  oddString,
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  fc.jsonValue({ maxDepth: 5 }),
);

const validPhone = fc.integer({ min: 0, max: 9999 }).map((n) => `+1646555${String(n).padStart(4, '0')}`);
const invalidPhone = fc
  .oneof(
    fc.constantFrom('+1000', '123', 'abc', '+', '+1 212 555 01', '+999999999999999999', '0000000000', '(000) 000-0000', '+44 20', '911', '1'.repeat(41)),
    fc.stringMatching(/^\+?[0-9 ()-]{0,20}$/),
    fc.string({ maxLength: 45 }),
  )
  .filter((p) => normalizePhone(p, 'US') === null);
const slug = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,20}$/);
const badSlug = fc.constantFrom('', 'New', 'a b', '-a', '_a', 'x'.repeat(41), 'ü', 'a/b', '1.5', 'call\u0000');
const badId: fc.Arbitrary<unknown> = fc.constantFrom(0, -1, 1.5, '1', 2 ** 53, 2 ** 64, 1e21, null, true, [1], {});
const leadIds = fc.array(fc.integer({ min: 1, max: MAX_SAFE }), { minLength: 1, maxLength: 20 });
const badLeadIds: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom([], [0], [-1], [1.5], ['1'], [2 ** 53], [1e21], [null], [[1]], 'x', {}, null, 1),
  fc.tuple(leadIds, badId).map(([ids, bad]) => [...ids, bad]),
);
const tags = fc.array(fc.stringMatching(/^[a-z]{1,10}$/), { maxLength: 5 });
const badTags: fc.Arbitrary<unknown> = fc.constantFrom('vip', [''], ['   '], ['x'.repeat(51)], [1], [null], ['ok', 'v\u0000ip'], Array.from({ length: 51 }, (_, i) => `t${i}`));
const isoDate = fc.date({ min: new Date('1971-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
const pad2 = (n: number): string => String(n).padStart(2, '0');
const badIsoDate: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    '2024-02-30T00:00:00Z', '2023-02-29T10:00:00Z', '2024-13-01T00:00:00Z', '2024-01-01', '2024-01-01T00:00:00', '2024-01-01 00:00:00Z',
    '+275760-09-13T00:00:00.000Z', '2024-01-01T24:00:00Z', '2024-01-01T00:00:60Z', '2024-01-01T00:00:00+99:99', 'yesterday', 'now', '',
    1_700_000_000, 1_700_000_000_000, null,
  ),
  // Well-formed, but outside what PostgreSQL stores (year 0000, or past 9999 once the offset is applied): these were a 500.
  fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 }), fc.integer({ min: 0, max: 23 }))
    .map(([m, d, h]) => `0000-${pad2(m)}-${pad2(d)}T${pad2(h)}:00:00Z`),
  fc.integer({ min: 1, max: 12 }).map((h) => `9999-12-31T23:00:00-${pad2(h)}:00`),
  fc.date({ noInvalidDate: true }).filter((d) => d.getUTCFullYear() < 1 || d.getUTCFullYear() > 9999).map((d) => d.toISOString()),
);
const email = fc.integer({ min: 0, max: 1e6 }).map((n) => `u${n}@example.com`);
const badEmail = fc.constantFrom('not-an-email', 'a@', '@b.co', 'a@b', 'a b@c.co', `${'x'.repeat(250)}@b.co`, 5, '', 'a\u0000@b.co');
/** NUL is a valid JSON string character that PostgreSQL text cannot hold: every free-text field gets it. */
const badName = fc.constantFrom('', '   ', 'x'.repeat(201), 5, [], {}, 'Ann\u0000');
const badText = fc.constantFrom('', '  \n ', 'x'.repeat(10_001), 5, null, ['x'], 'call\u0000back');

type Body = Record<string, unknown>;

interface BodyModel {
  valid: fc.Arbitrary<Body>;
  /** Bad values aimed at each known field; garbage is tried on every field as well. */
  bad: Record<string, fc.Arbitrary<unknown>>;
  required: readonly string[];
  /** What a body the route's schema accepts still gets, when the service refuses it. */
  semantic?: (body: Body) => Expect | null;
}

/** The answer a parsed JSON body must get, or null when it is a valid body. */
function bodyVerdict(e: Endpoint, m: BodyModel, body: unknown): Expect | null {
  if (hasUnstorable(body) || !zodOf(e, 'body').safeParse(body).success) return { status: 400, at: 'body' };
  return m.semantic?.(body as Body) ?? null;
}

/** Valid bodies only (checked against the route's schema), for cases where another part is bad. */
function validBodies(e: Endpoint, m: BodyModel): fc.Arbitrary<Body> {
  return m.valid.filter((b) => bodyVerdict(e, m, JSON.parse(JSON.stringify(b))) === null);
}

function badBodies(e: Endpoint, m: BodyModel): fc.Arbitrary<{ payload: string; expect: Expect }> {
  const fields = Object.keys(m.bad);
  const corruption = fc.constantFrom(...fields).chain((f) => fc.oneof({ weight: 3, arbitrary: m.bad[f] ?? garbage }, { weight: 1, arbitrary: garbage }).map((v) => [f, v] as const));
  const aimed = fc.constantFrom(...fields).chain((f) => (m.bad[f] as fc.Arbitrary<unknown>).map((v) => [f, v] as const));
  const candidates: fc.Arbitrary<unknown> = fc.oneof(
    // One aimed value on a valid body: reaches the service's own checks (semantic refusals).
    { weight: 3, arbitrary: fc.tuple(m.valid, aimed).map(([v, [f, x]]) => ({ ...v, [f]: x })) },
    { weight: 3, arbitrary: fc.tuple(m.valid, fc.array(corruption, { minLength: 1, maxLength: 3 })).map(([v, cs]) => ({ ...v, ...Object.fromEntries(cs) })) },
    ...(m.required.length > 0
      ? [{ weight: 2, arbitrary: fc.tuple(m.valid, fc.constantFrom(...m.required)).map(([v, f]) => Object.fromEntries(Object.entries(v).filter(([k]) => k !== f))) }]
      : []),
    { weight: 2, arbitrary: fc.tuple(m.valid, fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !fields.includes(k)), garbage).map(([v, k, g]) => ({ ...v, [k]: g })) },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), oddString, fc.array(garbage, { maxLength: 3 }), fc.constant(null), fc.boolean(), hugeNumber) },
  );
  return candidates
    .map((b) => JSON.stringify(b))
    .map((payload) => ({ payload, expect: bodyVerdict(e, m, JSON.parse(payload)) }))
    .filter((c): c is { payload: string; expect: Expect } => c.expect !== null);
}

function bodyCases(e: Endpoint, m: BodyModel, url = pathOf(e)): fc.Arbitrary<Case> {
  return badBodies(e, m).map(({ payload, expect }) => ({ label: `bad ${expect.at ?? 'body'}`, method: e.method, url, headers: JSON_CT, payload, expect }));
}

const hex32 = fc.stringMatching(/^[0-9a-f]{32}$/);
/** Strings that look like call sids but are not: wrong prefix, length, case or digits. */
const badSid = fc.oneof(
  fc.constantFrom('CA', 'ca', `CA${'0'.repeat(31)}`, `CA${'0'.repeat(33)}`, `ca${'a'.repeat(32)}`, `CA${'g'.repeat(32)}`, `RE${'a'.repeat(32)}`, `CA ${'a'.repeat(32)}`, `CA${'a'.repeat(32)} `),
  hex32.map((h) => `CA${h.slice(1)}`),
  hex32.map((h) => `RE${h}`),
  hex32.map((h) => `CA${h}x`),
);

/** Path parameters the route's params schema refuses: zero, negative, fractions, beyond 2^53 and bigint, words, odd unicode. */
function badIdSegments(e: Endpoint): fc.Arbitrary<{ seg: string; at: string }> {
  const schema = zodOf(e, 'params');
  const name = paramOf(e) ?? 'id';
  return fc
    .oneof(
      badSid,
      fc.constantFrom(
        '0', '-1', '-0', '00', '1.5', '0.1', '1e400', '-1e3', 'Infinity', 'NaN', '9007199254740992', '9007199254740993',
        '9223372036854775807', '9223372036854775808', '18446744073709551616', '1'.padEnd(40, '0'), 'abc', '1a', '0x', '0b2',
        '1,2', '1 2', '１２', '١٢', '+-1', 'null', '[]', '{}', '%', '%00', '\u0000', '/', '?', '#', '..', ' ',
      ),
      fc.integer({ min: -(2 ** 31), max: 0 }).map(String),
      fc.double().map(String),
      fc.bigInt({ min: 2n ** 53n, max: 2n ** 80n }).map(String),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
      fc.integer({ min: 201, max: 400 }).map((n) => '9'.repeat(n)),
    )
    // '.' and '..' are not ids but path navigation, resolved by every URL parser before routing.
    .filter((seg) => seg.length > 0 && seg !== '.' && seg !== '..' && !schema.safeParse({ [name]: seg }).success)
    // Fastify refuses a parameter longer than maxParamLength (200) before validation: a bad URL.
    .map((seg) => ({ seg: encodeURIComponent(seg), at: seg.length > 200 ? 'url' : 'params' }));
}

/** Bad or missing ids on an id route; `body` (valid) goes with them so only the id is wrong. */
function idCases(e: Endpoint, body?: fc.Arbitrary<Body>): fc.Arbitrary<Case> {
  const withBody = (url: string, label: string, expect: Expect): fc.Arbitrary<Case> =>
    (body ?? fc.constant(undefined)).map((b) => ({ label, method: e.method, url, expect, ...(b === undefined ? {} : { payload: JSON.stringify(b), headers: JSON_CT }) }));
  return fc.oneof(
    { weight: 3, arbitrary: badIdSegments(e).chain(({ seg, at }) => withBody(pathOf(e, seg), 'bad id', { status: 400, at })) },
    { weight: 1, arbitrary: missingParam(e).chain((id) => withBody(pathOf(e, id), 'missing id', { status: 404, code: 'not_found' })) },
  );
}

/** A well-formed parameter that names nothing: an id or a call sid nobody has. */
function missingParam(e: Endpoint): fc.Arbitrary<string | number> {
  return paramOf(e) === 'call_sid' ? hex32.map((h) => `CA${h.replace(/^7/, '8')}`) : fc.integer({ min: 10 ** 12, max: MAX_SAFE });
}

type Query = Record<string, string | string[]>;

interface QueryParam {
  valid: fc.Arbitrary<string>;
  bad: fc.Arbitrary<string | string[]>;
}

function cursorIsValid(c: string): boolean {
  if (c === '') return true;
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as { id?: unknown } | null;
    return typeof v?.id === 'number' && Number.isSafeInteger(v.id) && v.id > 0;
  } catch {
    return false;
  }
}

const twoOrMore = (a: fc.Arbitrary<string>) => fc.array(a, { minLength: 2, maxLength: 3 });
const LIST_PARAMS: Record<string, QueryParam> = {
  limit: {
    valid: fc.integer({ min: 1, max: 500 }).map(String),
    bad: fc.oneof(
      fc.integer({ max: 0 }).map(String),
      fc.integer({ min: 501 }).map(String),
      fc.double().map(String),
      fc.constantFrom('', 'abc', '1e400', 'NaN', '0x', '1_0', '５', '10abc', '9'.repeat(30)),
      twoOrMore(fc.integer({ min: 1, max: 500 }).map(String)),
      urlString,
    ),
  },
  cursor: {
    valid: fc.integer({ min: 1, max: MAX_SAFE }).map((id) => b64({ id })),
    bad: fc.oneof(
      fc.constantFrom(b64({ id: -1 }), b64({ id: 0 }), b64({ id: 1.5 }), b64({ id: '1' }), b64({ id: 2 ** 60 }), b64([]), b64(null), b64('x'), 'garbage', 'x'.repeat(201), '%%%'),
      fc.jsonValue({ maxDepth: 2 }).map(b64),
      urlString,
      twoOrMore(fc.constant(b64({ id: 1 }))),
    ),
  },
};

interface QueryOptions {
  /** The path (with its id) the query goes to; default: the route's own path. */
  url?: string;
  /** Which cursors the route gave out; default: the id cursors of pagination.ts. */
  cursorOk?: (cursor: string) => boolean;
  /** Not the tenant API: U+0000 is the route's to judge, not the text guard's. */
  noNulGuard?: boolean;
}

function queryCases(e: Endpoint, params: Record<string, QueryParam>, extra: (q: Query) => Expect | null = () => null, opts: QueryOptions = {}): fc.Arbitrary<Case> {
  const schema = zodOf(e, 'querystring');
  const names = Object.keys(params);
  const cursorOk = opts.cursorOk ?? cursorIsValid;
  const verdict = (q: Query): Expect | null => {
    if ((!opts.noNulGuard && hasUnstorable(q)) || !schema.safeParse(q).success) return { status: 400, at: 'querystring' };
    if (names.includes('cursor') && typeof q.cursor === 'string' && !cursorOk(q.cursor)) return { status: 400, at: 'querystring.cursor' };
    return extra(q);
  };
  // Built once, not in chain's callback (which runs for every generated case): building a
  // stringMatching arbitrary there cost the file ~5 s of CPU.
  const noise = fc.option(fc.tuple(fc.stringMatching(/^[a-z_]{1,8}$/).filter((k) => !names.includes(k)), urlString), { nil: undefined });
  const rests = new Map(names.map((badName) => [badName, fc.record(Object.fromEntries(names.filter((n) => n !== badName).map((n) => [n, (params[n] as QueryParam).valid])), { requiredKeys: [] })]));
  return fc
    .constantFrom(...names)
    .chain((badName) => fc.record({
      bad: (params[badName] as QueryParam).bad,
      rest: rests.get(badName) as fc.Arbitrary<Partial<Record<string, unknown>>>,
      noise,
    }).map(({ bad, rest, noise }): Query => ({ ...(rest as Query), [badName]: bad, ...(noise ? { [noise[0]]: noise[1] } : {}) })))
    .map((q) => ({ q, expect: verdict(q) }))
    .filter((c): c is { q: Query; expect: Expect } => c.expect !== null)
    .map(({ q, expect }) => ({ label: 'bad query', method: e.method, url: `${opts.url ?? pathOf(e)}?${queryString(q)}`, expect }));
}

function queryString(q: Query): string {
  return Object.entries(q)
    .flatMap(([k, v]) => [v].flat().map((one) => `${encodeURIComponent(k)}=${encodeURIComponent(one)}`))
    .join('&');
}

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const badHeaderValue = fc.oneof(
  fc.constantFrom('', ' ', 'a\u0000b'),
  fc.integer({ min: 256, max: 600 }).map((n) => 'k'.repeat(n)),
  printable,
);

/** One bad header on an otherwise valid request (`base`); values the headers schema accepts are left out. */
function headerCases(e: Endpoint, names: readonly string[], base: fc.Arbitrary<Req>): fc.Arbitrary<Case> {
  const schema = zodOf(e, 'headers');
  return fc
    .tuple(base, fc.constantFrom(...names), badHeaderValue)
    .filter(([, name, value]) => hasUnstorable(value) || !schema.safeParse({ [name]: value }).success)
    .map(([req, name, value]) => ({ ...req, label: `bad ${name}`, headers: { ...req.headers, [name]: value }, expect: { status: 400, at: 'headers' } }));
}

const UNSUPPORTED_TYPES = [
  'application/xml', 'text/html', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream',
  'image/png', 'application/json-patch+json', 'foo/bar',
];

/** Transport-level garbage for a route that parses a body: malformed JSON, an empty JSON body, unsupported content types. */
function transportCases(e: Endpoint, url: string, opts: { csvIsBad: boolean; supported?: string[]; headers?: Record<string, string> }): fc.Arbitrary<Case> {
  const extra = opts.headers ?? {};
  const malformed = fc
    .tuple(fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.nat(), fc.constantFrom('', ',', '}', '{', ']', '"', "'", 'undefined', 'NaN', '\u0000', '//', '\\'))
    .map(([text, cut, junk]) => text.slice(0, cut % (text.length + 1)) + junk)
    .filter((s) => s.trim() !== '' && !parsesAsJson(s));
  return fc.oneof(
    { weight: 3, arbitrary: malformed.map((payload): Case => ({ label: 'malformed JSON', method: e.method, url, headers: { ...extra, ...JSON_CT }, payload, expect: { status: 400, at: 'body' } })) },
    { weight: 1, arbitrary: fc.constant<Case>({ label: 'empty JSON', method: e.method, url, headers: { ...extra, ...JSON_CT }, payload: '', expect: { status: 400, at: 'body' } }) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom(...UNSUPPORTED_TYPES.filter((type) => !opts.supported?.includes(type))), fc.string({ maxLength: 50 })).map(([type, payload]): Case => ({
        label: 'unsupported content type', method: e.method, url, headers: { ...extra, 'content-type': type }, payload, expect: { status: 415, code: 'unsupported_media_type' },
      })),
    },
    ...(opts.csvIsBad
      ? [{ weight: 1, arbitrary: fc.string({ maxLength: 50 }).map((payload): Case => ({ label: 'CSV where JSON is expected', method: e.method, url, headers: { 'content-type': 'text/csv' }, payload, expect: { status: 400, at: 'body' } })) }]
      : []),
  );
}

/** A path of the endpoint with a real parameter of the tenant's fixture (or the other business, for admin routes). */
function sampleUrl(e: Endpoint): string {
  if (e.url.includes('/admin/')) return pathOf(e, other.businessId);
  switch (e.owns) {
    case 'run': return pathOf(e, fx.runId);
    case 'broadcast': return pathOf(e, fx.broadcastId);
    case 'call': return pathOf(e, fx.callSid);
    case 'dnc': return pathOf(e, encodeURIComponent(fx.dncPhone));
    case 'user': return pathOf(e, people.patchUserId);
    case 'token': return pathOf(e, people.spareTokenId);
    default: return pathOf(e, fx.leadId);
  }
}

/** Requests sent once per endpoint: a wrong method, an undecodable URL, a body over the limit. */
function commonOnce(e: Endpoint, url: string): Case[] {
  const cases: Case[] = [
    // PUT is routed on the channels (issue 14), PATCH is not.
    { label: 'wrong method', method: url.startsWith('/api/v1/channels/') ? 'PATCH' : 'PUT', url, expect: { status: 404, code: 'not_found' } },
    { label: 'bad percent-encoding', method: e.method, url: `${url}%E0%A4%A`, expect: { status: 400, at: 'url' } },
  ];
  if (e.auth !== 'none') {
    // Even a parameter no route reads: U+0000 is refused before anything can try to store it.
    cases.push({ label: 'NUL in the query', method: e.method, url: `${url}?note=a%00b`, expect: { status: 400, at: 'querystring.note' } });
  }
  if (e.auth !== 'none' && e.method !== 'GET') {
    // A lone surrogate (JSON can spell one; UTF-8 cannot) was a 500 when a route stored it.
    cases.push({ label: 'lone surrogate in the body', method: e.method, url, headers: JSON_CT, payload: '{"note":"a\\ud800b"}', expect: { status: 400, at: 'body.note' } });
  }
  if (e.method !== 'GET') {
    cases.push({ label: 'body over 16 MiB', method: e.method, url, headers: JSON_CT, payload: tooLarge(), expect: { status: 413, code: 'payload_too_large' } });
  }
  return cases;
}

let tooLargeBody: string | undefined;
const tooLarge = (): string => (tooLargeBody ??= `{"lead_ids": [${'1,'.repeat(8_400_000)}1]}`);

let hundredThousandAndOne: string | undefined;
/** 100 001 ids, one over the limit: built once, not per run. */
const tooManyIds = (): number[] => JSON.parse((hundredThousandAndOne ??= JSON.stringify(Array.from({ length: 100_001 }, (_, i) => i + 1)))) as number[];

/** A JSON value nested deeper than any recursive walk survives, as text (and within the 256 KiB body limit). */
const deeplyNested = (inner: string, depth = 100_000): string => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;

// ---------------------------------------------------------------------------------------------
// Every endpoint: what it must refuse, and one request it must accept.

interface Spec {
  cases: () => fc.Arbitrary<Case>;
  /** Refusals sent once (too big to generate per run, or one of a kind); commonOnce is added. */
  once?: () => Case[];
  /** A valid request and its status, sent after the refusals. */
  valid: () => Promise<{ req: Req; status: number }>;
  /** Undo what the valid request holds (a queued job's gate lock). */
  cleanup?: (answer: Answer) => Promise<void>;
}

const jsonReq = (method: Method, url: string, body: unknown): Req => ({ method, url, headers: JSON_CT, payload: JSON.stringify(body) });
let phoneSeq = 0;
const freshPhone = (): string => `+1646555${String(1000 + (phoneSeq += 1)).padStart(4, '0')}`;
type Answer = { job_id?: number; id?: number; status?: string; calls?: { id: number }[] };
const cancelJob = async (answer: Answer) => {
  assert.ok(answer.job_id, 'the valid request should answer a job_id');
  await ok(t, 'POST', `/api/v1/jobs/${answer.job_id}/cancel`, undefined, 200);
};

const leadModel = (): BodyModel => ({
  valid: fc.record(
    { phone: validPhone, name: fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim() !== ''), email, status: slug, tags },
    { requiredKeys: ['phone'] },
  ),
  bad: { phone: fc.oneof(invalidPhone, fc.constantFrom(5, null, ['+12125550100'], '')), name: badName, email: badEmail, status: badSlug, tags: badTags },
  required: ['phone'],
  semantic: (b) => (typeof b.phone === 'string' && normalizePhone(b.phone, 'US') === null ? { status: 400, at: 'body.phone' } : null),
});

const receiptModel = (): BodyModel => ({
  valid: fc.record({
    vendor: fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s.trim() !== ''),
    amount: fc.integer({ min: 0, max: 10 ** 9 }).map((cents) => cents / 100),
    currency: fc.constantFrom('USD', 'EUR', 'ILS'),
    issued_at: isoDate,
  }),
  bad: {
    vendor: fc.constantFrom('', '   ', 'x'.repeat(201), 5, null, 'Caf\u0000e'),
    amount: fc.oneof(fc.constantFrom(-0.01, 0.001, 1.005, 1e12, 1e308, -1e308, '10', null, 2 ** 64), fc.double({ min: -1e6, max: -0.001 })),
    currency: fc.constantFrom('usd', 'US', 'USDD', '12A', '€€€', '', 840, 'U S'),
    issued_at: badIsoDate,
  },
  required: ['vendor', 'amount', 'currency', 'issued_at'],
});

const noteModel = (): BodyModel => ({ valid: fc.record({ text: fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s.trim() !== '') }), bad: { text: badText }, required: ['text'] });
const activityModel = (): BodyModel => ({
  valid: fc.record({ type: slug, text: fc.constantFrom('called', 'left a voicemail') }),
  bad: { type: badSlug, text: badText },
  required: ['type', 'text'],
});
const reminderModel = (): BodyModel => ({ valid: fc.record({ due_at: isoDate, text: fc.constant('call back') }), bad: { due_at: badIsoDate, text: badText }, required: ['due_at', 'text'] });

const bulkDeleteModel = (): BodyModel => ({ valid: fc.record({ lead_ids: leadIds }), bad: { lead_ids: badLeadIds }, required: ['lead_ids'] });

const bulkUpdateModel = (): BodyModel => ({
  valid: fc.record({
    lead_ids: leadIds,
    set: fc.record({ status: slug, owner_user_id: fc.constantFrom(t.userId, null), tags_add: tags, tags_remove: tags }, { requiredKeys: ['status'] }),
  }),
  bad: {
    lead_ids: badLeadIds,
    set: fc.oneof(
      fc.constantFrom({}, { status: 'New' }, { owner_user_id: 0 }, { owner_user_id: '1' }, { tags_add: 'x' }, { extra: 1 }, [], null, 'status'),
      // Schema-valid, refused by the service: another business's user, or no user at all.
      fc.constantFrom({ owner_user_id: other.userId }, { owner_user_id: MAX_SAFE }, { status: 'x', owner_user_id: other.userId }),
    ),
  },
  required: ['lead_ids', 'set'],
  semantic: (b) => {
    const owner = (b.set as { owner_user_id?: unknown }).owner_user_id;
    return typeof owner === 'number' && owner !== t.userId ? { status: 400, at: 'body.set.owner_user_id' } : null;
  },
});

const deleteImportedModel = (): BodyModel => ({
  valid: fc.oneof(fc.constant({ import_id: fx.importId }), fc.record({ lead_ids: leadIds }), fc.constant({ all: true })),
  bad: {
    import_id: fc.oneof(badId, fc.constantFrom(fx.otherImportId, MAX_SAFE, 10 ** 12)),
    lead_ids: badLeadIds,
    all: fc.constantFrom(false, 'true', 1, null),
  },
  required: [],
  // Schema-valid but not the caller's import: the import is not found (API.md: 404).
  semantic: (b) => (typeof b.import_id === 'number' && b.import_id !== fx.importId ? { status: 404, code: 'not_found' } : null),
});

const importJsonModel = (): BodyModel => ({
  valid: fc.record({ leads: fc.array(fc.record({ phone: validPhone }), { minLength: 1, maxLength: 5 }), filename: fc.constantFrom('a.csv', 'leads.json') }, { requiredKeys: ['leads'] }),
  bad: {
    leads: fc.oneof(fc.constantFrom([], 'x', null, {}, 5), fc.array(fc.oneof(fc.constantFrom(1, 'a', null, true), fc.array(garbage, { maxLength: 2 })), { minLength: 1, maxLength: 3 })),
    filename: fc.constantFrom('', '   ', 'f'.repeat(256), 5, null, ['a'], 'a\u0000.csv'),
  },
  required: ['leads'],
});

// ---- Outbound calls and WhatsApp.

const hhmm = fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })).map(([h, m]) => `${pad2(h)}:${pad2(m)}`);

const settingsModel = (): BodyModel => ({
  valid: fc.record({
    calling_hours: fc.oneof(fc.constant(null), fc.record({ start: hhmm, end: hhmm })),
    retry: fc.record({ busy: fc.integer({ min: 0, max: 10 }), no_answer: fc.integer({ min: 0, max: 10 }), delay_s: fc.integer({ min: 1, max: 604_800 }) }, { requiredKeys: [] }),
    max_call_s: fc.oneof(fc.constant(null), fc.integer({ min: 10, max: 14_400 })),
  }, { requiredKeys: [] }),
  bad: {
    calling_hours: fc.constantFrom(
      { start: '9:00', end: '17:00' }, { start: '24:01', end: '01:00' }, { start: '09:60', end: '10:00' }, { start: '09:00' }, { start: '09:00', end: '17:00', tz: 'UTC' },
      { start: '09:00\u0000', end: '10:00' }, { start: 900, end: 1700 }, '09:00-17:00', 5, [],
    ),
    retry: fc.constantFrom({ busy: 11 }, { busy: -1 }, { no_answer: 1.5 }, { delay_s: 0 }, { delay_s: 604_801 }, { delay_s: '60' }, { every: 1 }, null, [], 'x'),
    max_call_s: fc.constantFrom(9, 14_401, 1.5, '60', -1, 2 ** 53, true),
  },
  required: [],
});

/** A phone the business's default country (US) cannot read, after the schema's trim. */
const unreadablePhone = (phone: unknown): boolean => typeof phone === 'string' && normalizePhone(phone.trim(), 'US') === null;

const dncModel = (): BodyModel => ({
  valid: fc.record({ phone: validPhone, reason: fc.constantFrom('asked', 'lawyer', ' ') }, { requiredKeys: ['phone'] }),
  bad: {
    phone: fc.oneof(invalidPhone, fc.constantFrom(5, null, '', '   ', 'x'.repeat(41), '+1212555\u00000100', ['+12125550100'])),
    reason: fc.constantFrom('x'.repeat(501), 5, null, 'a\u0000b', ['x']),
  },
  required: ['phone'],
  semantic: (b) => (unreadablePhone(b.phone) ? { status: 400, at: 'body.phone' } : null),
});

const optOutModel = (): BodyModel => ({
  valid: fc.record({ phone: validPhone }),
  bad: { phone: fc.oneof(invalidPhone, fc.constantFrom(5, null, '', 'x'.repeat(41), '+1212555\u00000100', ['+12125550100'])) },
  required: ['phone'],
  semantic: (b) => (unreadablePhone(b.phone) ? { status: 400, at: 'body.phone' } : null),
});

const runModel = (): BodyModel => ({
  valid: fc.record({ lead_ids: leadIds.map((ids) => [fx.leadId, ...ids]), concurrency: fc.integer({ min: 1, max: 1000 }) }, { requiredKeys: ['lead_ids'] }),
  bad: {
    lead_ids: fc.oneof(badLeadIds, fc.constantFrom([fx.otherLeadId], [MAX_SAFE], [fx.otherLeadId, MAX_SAFE])),
    concurrency: fc.constantFrom(0, 1001, 1.5, '3', null, -1, 2 ** 53),
  },
  required: ['lead_ids'],
  // Ids that are not the business's leads are left out of a run; a run of none is a 400.
  semantic: (b) => ((b.lead_ids as number[]).some((id) => tenantLeads.has(id)) ? null : { status: 400, at: 'body.lead_ids' }),
});

const callsModel = (): BodyModel => ({
  valid: fc.record({ lead_ids: fc.array(fc.integer({ min: 1, max: MAX_SAFE }), { minLength: 1, maxLength: 3 }) }),
  bad: {
    lead_ids: fc.oneof(
      fc.constantFrom([], [0], [-1], [1.5], ['1'], [2 ** 53], [null], 'x', null, 1, [1, 2, 3, 4]),
      fc.constantFrom([fx.otherLeadId], [fx.dncLeadId], [fx.leadId, fx.otherLeadId], [fx.dncLeadId, MAX_SAFE], [fx.dncLeadId, fx.dncLeadId]),
    ),
  },
  required: ['lead_ids'],
  // Another business's lead is a lead that does not exist (404); a do-not-call lead is a 422.
  // Anything else would place real calls: the oracle calls it valid, so it is never sent.
  semantic: (b) => {
    const ids = b.lead_ids as number[];
    if (ids.some((id) => !tenantLeads.has(id))) return { status: 404, code: 'not_found' };
    return ids.includes(fx.dncLeadId) ? { status: 422, code: 'do_not_call' } : null;
  },
});

const recipient = fc.record({ phone: validPhone });
const broadcastModel = (): BodyModel => ({
  valid: fc.oneof(
    fc.record({ text: fc.constantFrom('Opening at 9', 'café ☕ 🎉'), recipients: fc.array(recipient, { minLength: 1, maxLength: 3 }) }),
    fc.record({
      template: fc.record({ name: fc.constantFrom('hello_world', 'order_update_2'), language: fc.constantFrom('en', 'en_US', 'pt_BR'), variables: fc.array(fc.constantFrom('Ann', '42'), { maxLength: 3 }) }, { requiredKeys: ['name', 'language'] }),
      recipients: fc.array(recipient, { minLength: 1, maxLength: 3 }),
    }),
  ),
  bad: {
    text: fc.constantFrom('', '   ', 'x'.repeat(4097), 5, null, 'a\u0000', 'caf\ud800', '\udc00x', ['hi']),
    template: fc.constantFrom(
      { name: 'Hello', language: 'en' }, { name: 'hello', language: 'english' }, { name: '', language: 'en' }, { name: 'hello' },
      { name: 'hello', language: 'en', variables: [''] }, { name: 'hello', language: 'en', variables: Array.from({ length: 101 }, () => 'v') },
      { name: 'hello', language: 'en', variables: ['\udc00'] }, { name: 'hello', language: 'en', variables: [5] }, { name: 'hello', language: 'en', header: 'x' },
      { name: 'x'.repeat(513), language: 'en' }, 'hello', null,
    ),
    recipients: fc.oneof(
      fc.constantFrom([], 'x', null, [{}], [{ phone: 5 }], [{ phone: '' }], [{ phone: '+12125550100', name: 'x' }], [{ phone: '+12125550100', lead_id: 0 }], [{ phone: '+12125550100', lead_id: '1' }]),
      fc.constantFrom([{ phone: '+12125550100', lead_id: fx.otherLeadId }], [{ phone: '+12125550100', lead_id: MAX_SAFE }]),
      fc.array(invalidPhone.map((phone) => ({ phone })), { minLength: 1, maxLength: 3 }),
    ),
    lead_ids: fc.oneof(badLeadIds, fc.constantFrom([fx.otherLeadId], [MAX_SAFE], [fx.leadId, fx.otherLeadId])),
  },
  required: ['recipients'],
  // What the service refuses after the schema (400, nothing created): leads that are not the
  // business's, phones that cannot be read.
  semantic: (b) => {
    const issues: string[] = [];
    const recipients = (b.recipients ?? []) as { phone: string; lead_id?: number }[];
    recipients.forEach((r, i) => {
      if (r.lead_id !== undefined && !tenantLeads.has(r.lead_id)) issues.push(`body.recipients.${i}.lead_id`);
    });
    ((b.lead_ids ?? []) as number[]).forEach((id, i) => {
      if (!tenantLeads.has(id)) issues.push(`body.lead_ids.${i}`);
    });
    recipients.forEach((r, i) => {
      if (normalizePhone(r.phone, 'US') === null) issues.push(`body.recipients.${i}.phone`);
    });
    return issues[0] === undefined ? null : { status: 400, at: issues[0] };
  },
});

/** DELETE /outbound/dnc/:phone: what the schema refuses, phones nobody could dial, phones not on the list. */
function dncPhoneCases(e: Endpoint): fc.Arbitrary<Case> {
  const schema = zodOf(e, 'params');
  const refused = fc
    .oneof(invalidPhone, urlString, fc.constantFrom('a\u0000b', '+1212555\u00000100', 'x'.repeat(41), '9'.repeat(250), ' '))
    .filter((seg) => seg.length > 0 && seg !== '.' && seg !== '..')
    .map((seg): Case => {
      const at = seg.length > 200 ? 'url' : 'params';
      const bad = hasUnstorable(seg) || !schema.safeParse({ phone: seg }).success || normalizePhone(seg, 'US') === null;
      return { label: 'bad phone', method: 'DELETE', url: pathOf(e, encodeURIComponent(seg)), expect: bad ? { status: 400, at } : { status: 404, code: 'not_found' } };
    })
    // A readable phone that happens to be on the list would be removed: never sent.
    .filter((c) => c.expect.status === 400);
  // Readable phones in the forms people type them, none of them on the list (freshPhone never reaches 9xxx).
  const absent = fc.tuple(fc.integer({ min: 0, max: 999 }).map((n) => `9${String(n).padStart(3, '0')}`), fc.constantFrom('e164', 'local', 'spaced'))
    .map(([last, form]): Case => {
      const phone = form === 'e164' ? `+1646555${last}` : form === 'local' ? `(646) 555-${last}` : `1 646 555 ${last}`;
      return { label: 'not on the list', method: 'DELETE', url: pathOf(e, encodeURIComponent(phone)), expect: { status: 404, code: 'not_found' } };
    });
  return fc.oneof({ weight: 3, arbitrary: refused }, { weight: 1, arbitrary: absent });
}

// ---- Webhooks. Twilio signs the full URL (PUBLIC_BASE_URL + path + query) and the form params.

const FORM_CT = { 'content-type': 'application/x-www-form-urlencoded' };

function twilioReq(url: string, params: Record<string, string>, signature: string | null): Req {
  return { method: 'POST', url, headers: { ...FORM_CT, ...(signature === null ? {} : { 'x-twilio-signature': signature }) }, payload: new URLSearchParams(params).toString() };
}

const twilioSignature = (url: string, params: Record<string, string>, token = SIM_TWILIO_AUTH_TOKEN): string =>
  twilio.getExpectedTwilioSignature(token, env.baseUrl + url, params);

interface TwilioModel {
  /** A callback that would change the ringing fixture call if its forged signature were accepted. */
  forged: Record<string, string>;
  /** Signed, but a stored field is malformed: 400 naming it, and the ringing call keeps its state. */
  bad: Record<string, fc.Arbitrary<string>>;
  valid: () => { callId: number; params: Record<string, string> };
  /** The valid request's status: 204 for callbacks, 200 for the call flow's webhooks (TwiML). */
  validStatus?: number;
}

function twilioSpec(e: Endpoint, m: TwilioModel): Spec {
  const url = (b: number | string, callId: number | string) => `${e.url}?b=${b}&call_id=${callId}`;
  return {
    cases: () => {
      const target = url(t.businessId, fx.ringingCallId);
      const forgedSignature = fc.oneof(
        fc.constant<string | null>(null),
        fc.constantFrom('', 'AAAA', 'x'.repeat(300)),
        printable,
        fc.constant(twilioSignature(target, m.forged, 'not-the-auth-token')),
        // Signed for another call, another business, other params, or with the body changed after signing.
        fc.constant(twilioSignature(url(t.businessId, fx.callId), m.forged)),
        fc.constant(twilioSignature(url(other.businessId, fx.ringingCallId), m.forged)),
        fc.constant(twilioSignature(target, { ...m.forged, CallSid: fx.callSid })),
        fc.constant(twilioSignature(target, {})),
      );
      const forged = forgedSignature.map((sig): Case => ({ ...twilioReq(target, m.forged, sig), label: 'forged signature', expect: { status: 403, code: 'forbidden' } }));
      // Forged, with a body of any shape or type the app can parse: refused before it is read.
      const forgedBodies = fc.oneof(
        fc.dictionary(fc.stringMatching(/^[A-Za-z]{1,12}$/), printable, { maxKeys: 5 }).map((p): Case => ({ ...twilioReq(target, p, twilioSignature(target, p, 'x')), label: 'forged form', expect: { status: 403, code: 'forbidden' } })),
        fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)).filter((p) => !/"(__proto__|constructor)"/.test(p))
          .map((payload): Case => ({ label: 'forged JSON', method: 'POST', url: target, headers: { ...JSON_CT, 'x-twilio-signature': 'AAAA' }, payload, expect: { status: 403, code: 'forbidden' } })),
        fc.string({ maxLength: 40 }).map((payload): Case => ({ label: 'forged text', method: 'POST', url: target, headers: { 'content-type': 'text/plain' }, payload, expect: { status: 403, code: 'forbidden' } })),
      );
      // Signed, but our ids in the URL are not ids.
      const queryOracle = zodOf(e, 'querystring');
      const badQuery = fc.tuple(
        fc.oneof(fc.constantFrom('0', '-1', 'abc', '1.5', '9007199254740993', '', '1e400', ' '), fc.constant(String(t.businessId))),
        fc.oneof(fc.constantFrom('0', '-1', 'x', '2.5', '99999999999999999999'), fc.constant(String(fx.ringingCallId))),
        fc.constantFrom('both', 'no b', 'no call_id'),
      ).map(([b, callId, shape]) => (shape === 'both' ? `${e.url}?b=${encodeURIComponent(b)}&call_id=${encodeURIComponent(callId)}` : shape === 'no b' ? `${e.url}?call_id=${encodeURIComponent(callId)}` : `${e.url}?b=${encodeURIComponent(b)}`))
        .filter((u) => !queryOracle.safeParse(Object.fromEntries(new URL(u, 'http://x').searchParams)).success)
        .map((u): Case => ({ ...twilioReq(u, m.forged, twilioSignature(u, m.forged)), label: 'signed, bad query', expect: { status: 400, at: 'querystring' } }));
      // Signed, a field we store malformed.
      const badField = fc.constantFrom(...Object.keys(m.bad)).chain((name) => (m.bad[name] as fc.Arbitrary<string>).map((value) => {
        const params = { ...m.forged, [name]: value };
        return { ...twilioReq(target, params, twilioSignature(target, params)), label: `signed, bad ${name}`, expect: { status: 400, at: `body.${name}` } } satisfies Case;
      }));
      return fc.oneof(forged, forgedBodies, badQuery, badField, transportCases(e, target, { csvIsBad: false, supported: [FORM_CT['content-type']], headers: { 'x-twilio-signature': 'AAAA' } }));
    },
    once: () => [
      { ...twilioReq(url(t.businessId, fx.ringingCallId), { ...m.forged, Padding: 'x'.repeat(70 * 1024) }, null), label: 'form over 64 KiB', expect: { status: 413, code: 'payload_too_large' } },
    ],
    // A duplicate of the completed call's final callback: answered, changes nothing that matters.
    valid: async () => {
      const { callId, params } = m.valid();
      const u = url(t.businessId, callId);
      return { req: twilioReq(u, params, twilioSignature(u, params)), status: m.validStatus ?? 204 };
    },
  };
}

/** POST /webhooks/whatsapp: X-Hub-Signature-256 over the raw body, keyed by the app secret. */
function whatsappCases(): fc.Arbitrary<Case> {
  const phoneNumberId = env.config.whatsapp.phoneNumberId;
  // Accepted, either would change the database: a parked status, an opt-out of a number the business messaged.
  const envelope = fc.constantFrom(
    buildEnvelope(phoneNumberId, { statuses: [{ id: 'wamid.forged', status: 'read', timestamp: '1700000000' }] }),
    buildEnvelope(phoneNumberId, { messages: [{ from: '12125550180', id: 'wamid.in', type: 'text', text: { body: 'STOP' } }] }),
  );
  const contentType = fc.constantFrom<string>('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/octet-stream');
  const post = (payload: string, signature: string | null, type: string): Req => ({
    method: 'POST', url: '/webhooks/whatsapp', headers: { 'content-type': type, ...(signature === null ? {} : { 'x-hub-signature-256': signature }) }, payload,
  });
  const forged = fc.tuple(envelope.map((v) => JSON.stringify(v)), contentType, fc.constantFrom('missing', 'empty', 'zeros', 'wrong secret', 'other body', 'sha1', 'truncated', 'random'), fc.stringMatching(/^[0-9a-f]{64}$/))
    .map(([body, type, how, hex]): Case => {
      const right = signBody(body, SIM_WHATSAPP_APP_SECRET);
      const signature = {
        missing: null, empty: '', zeros: `sha256=${'0'.repeat(64)}`, 'wrong secret': signBody(body, 'not-the-app-secret'), 'other body': signBody(`${body} `, SIM_WHATSAPP_APP_SECRET),
        sha1: right.replace('sha256=', 'sha1='), truncated: right.slice(0, -2), random: `sha256=${hex}`,
      }[how];
      return { ...post(body, signature, type), label: `forged (${how})`, expect: { status: 403, code: 'forbidden' } };
    });
  // Signed by the app secret, but not something we can act on: 400 naming it, nothing stored.
  const status = { id: 'wamid.x', status: 'delivered', timestamp: '1700000000' };
  const malformedStatus = fc.constantFrom<Record<string, unknown>>(
    { ...status, timestamp: '999999999999' }, { ...status, timestamp: '253402300800' }, { ...status, timestamp: '-1' }, { ...status, timestamp: '1.5' }, { ...status, timestamp: 1700000000 },
    { ...status, id: '' }, { ...status, id: 5 }, { ...status, id: 'w'.repeat(201) }, { ...status, id: 'wamid.\u0000' },
    { ...status, status: 'failed', errors: [{ code: 2 ** 31 }] }, { ...status, status: 'failed', errors: [{ code: 2 ** 53 }] }, { ...status, status: 'failed', errors: [{ code: 1.5 }] }, { ...status, status: 'failed', errors: [{ code: '131026' }] },
    { ...status, recipient_id: 'r'.repeat(33) }, { ...status, status: 5 },
  );
  const malformedMessage = fc.constantFrom<Record<string, unknown>>(
    { from: '', id: 'x', type: 'text', text: { body: 'STOP' } }, { from: '1'.repeat(33), id: 'x', type: 'text' }, { from: '1\u0000', id: 'x', type: 'text', text: { body: 'STOP' } },
    { from: '12125550180', id: 'x', type: 5 }, { from: '12125550180', id: 'x', type: 'text', text: { body: 5 } },
  );
  const withEnvelope = (patch: (v: Record<string, unknown>) => void) => {
    const value: Record<string, unknown> = { messaging_product: 'whatsapp', metadata: { phone_number_id: phoneNumberId } };
    patch(value);
    return { object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages', value }] }] };
  };
  const signedJson = fc.oneof(
    malformedStatus.map((s) => withEnvelope((v) => (v.statuses = [s]))),
    malformedMessage.map((msg) => withEnvelope((v) => (v.messages = [msg]))),
    fc.constantFrom<unknown>(
      withEnvelope((v) => (v.metadata = { phone_number_id: 5 })), withEnvelope((v) => delete v.metadata), withEnvelope((v) => (v.statuses = 'x')),
      withEnvelope((v) => (v.metadata = { phone_number_id: 'p\u0000' })),
      { object: 'whatsapp_business_account' }, { object: 'whatsapp_business_account', entry: 'x' }, { object: 'whatsapp_business_account', entry: [{ id: 1 }] },
      { object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages' }] }] }, { object: 'page\u0000' }, { object: 'page\ud800' }, { 'page\udc00': 1 },
    ),
    garbage.map((g) => ({ object: 'whatsapp_business_account', entry: g })),
  ).map((v) => JSON.stringify(v));
  const signedText = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('', '{', '{"object":', 'object=whatsapp_business_account', '\u0000'))
    .filter((text) => !parsesAsJson(text));
  const signed = fc.tuple(fc.oneof(signedJson, signedText), contentType)
    .map(([body, type]) => ({ body, type, expect: whatsappVerdict(body) }))
    .filter((c): c is { body: string; type: string; expect: Expect } => c.expect !== null)
    .map(({ body, type, expect }): Case => ({ ...post(body, signBody(body, SIM_WHATSAPP_APP_SECRET), type), label: 'signed, malformed', expect }));
  return fc.oneof(forged, signed);
}

/** What a correctly signed body gets: 400 unless it is JSON, free of text that cannot be stored, and a valid envelope or another object type. */
function whatsappVerdict(body: string): Expect | null {
  if (!parsesAsJson(body)) return { status: 400, at: 'body' };
  const json: unknown = JSON.parse(body);
  if (hasUnstorable(json)) return { status: 400, at: 'body' };
  const isEnvelope = json !== null && typeof json === 'object' && (json as { object?: unknown }).object === 'whatsapp_business_account';
  return isEnvelope && !WebhookEnvelope.safeParse(json).success ? { status: 400, at: 'body' } : null;
}

/**
 * The import body is judged by the app's reader (the route schema only tells JSON from CSV).
 * Unstorable text in the rows (`leads`, or anywhere in a CSV) is a row error, not a 400.
 */
function importVerdict(body: unknown, contentType: string): Expect | null {
  const outsideRows = typeof body === 'string' ? '' : body !== null && typeof body === 'object' && !Array.isArray(body) ? { ...body, leads: undefined } : body;
  if (hasUnstorable(outsideRows)) return { status: 400, at: 'body' };
  if (typeof body !== 'string' && (body === null || typeof body !== 'object' || Array.isArray(body))) return { status: 400, at: 'body' };
  try {
    if (typeof body !== 'string') readJsonImport(body);
    else if (/^text\//i.test(contentType)) parseCsvImport(body);
    else return { status: 400, at: 'body' };
    return null;
  } catch {
    return { status: 400, at: 'body' };
  }
}

const badCsv: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', '\ufeff', 'phone', 'phone\n', 'name,email\nBob,b@x.co', 'phone\n"unclosed', 'phone,name\n+12125550100,"a"b"', 'phone\n+1212555\u00000100'),
  // A header without a phone column.
  fc.tuple(fc.array(fc.constantFrom('name', 'email', 'tags', 'mobile', 'tel', 'Phone Number'), { minLength: 1, maxLength: 4 }), fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }))
    .map(([header, rows]) => [header.join(','), ...rows].join('\n')),
  fc.string({ maxLength: 60 }),
);

// ---- People: sign-in, invites, users, API tokens, the audit trail.

const roleName = fc.constantFrom('owner', 'admin', 'agent');
const badRole = fc.constantFrom('Owner', 'root', 'agent ', '', 5, null, ['agent'], 'agent\u0000');

/** t's people, made through the API as a person would (test/people/helpers.ts). */
const people = {
  /** A user of t's with a password: the valid sign-in, and the session of the CSRF cases. */
  email: 'signin@people.test', password: 'correct horse battery', session: null as Session | null,
  /** The invite that user accepted: used up. */
  usedInvite: '',
  /** An invite of the other business for that same email: one email signs in to one business. */
  takenInvite: '',
  /** An invite of a user t has disabled. */
  disabledInvite: '',
  /** An invited agent: PATCH /users/:id aims here (t's owner is the last owner). */
  patchUserId: 0,
  /** t's admin token (for the refusals of a role above the caller's), an owner token for DELETE /tokens/:id to aim at, one of the other business's. */
  adminToken: '', spareTokenId: 0, otherTokenId: 0,
};
let peopleSeq = 0;

async function inviteAs(who: Tenant, email: string, role: string): Promise<{ userId: number; inviteToken: string }> {
  const res = await env.app.inject({ method: 'POST', url: '/api/v1/users', headers: who.headers, payload: { email, role } });
  assert.equal(res.statusCode, 201, `invite ${email}: ${res.body}`);
  const body = res.json() as { user: { id: number }; invite_token: string };
  return { userId: body.user.id, inviteToken: body.invite_token };
}

async function mintToken(name: string, role: string): Promise<{ id: number; token: string }> {
  const res = await env.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: t.headers, payload: { name, role } });
  assert.equal(res.statusCode, 201, `token ${name}: ${res.body}`);
  return res.json();
}

/** Called by the one before() above: top-level hooks of node:test 20 start at once, they do not wait for each other. */
async function makePeople(): Promise<void> {
  // The other business invites the email first; once t's user has accepted, that invite can never be.
  people.takenInvite = (await inviteAs(other, people.email, 'agent')).inviteToken;
  people.usedInvite = (await inviteAs(t, people.email, 'agent')).inviteToken;
  await ok(t, 'POST', '/api/v1/auth/accept-invite', { invite_token: people.usedInvite, password: people.password }, 200);
  people.session = await signIn(env, people.email, people.password);
  people.patchUserId = (await inviteAs(t, 'patch-me@people.test', 'agent')).userId;
  const disabled = await inviteAs(t, 'disabled@people.test', 'agent');
  await ok(t, 'PATCH', `/api/v1/users/${disabled.userId}`, { disabled: true }, 200);
  people.disabledInvite = disabled.inviteToken;
  people.adminToken = (await mintToken('admin fixture', 'admin')).token;
  people.spareTokenId = (await mintToken('spare owner', 'owner')).id;
  const others = await env.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: other.headers });
  people.otherTokenId = (others.json() as { items: { id: number }[] }).items[0]?.id ?? 0;
  assert.ok(people.otherTokenId > 0, others.body);
}

const asAdmin = (): Record<string, string> => ({ ...JSON_CT, authorization: `Bearer ${people.adminToken}` });

/** What commonOnce sends to bearer routes only: the API's text guard stands before the public routes too. */
const publicOnce = (url: string): Case[] => [
  { label: 'NUL in the query', method: 'POST', url: `${url}?note=a%00b`, expect: { status: 400, at: 'querystring.note' } },
  { label: 'lone surrogate in the body', method: 'POST', url, headers: JSON_CT, payload: '{"note":"a\\ud800b"}', expect: { status: 400, at: 'body.note' } },
];

/** A signed-in browser's headers: its cookies, no bearer (an empty Authorization header is none), and the CSRF token if given. */
function browser(s: Session, csrf?: string, jar = s.jar): Record<string, string> {
  return { authorization: '', cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '), ...(csrf === undefined ? {} : { 'x-csrf-token': csrf }) };
}

/**
 * Sign-in: only bodies refused before any lookup are sent. A well-formed wrong password is no bad
 * input: it is a 401 that is written down (login_failures, the audit trail) and counts toward the
 * throttle of its email (5 in 15 minutes), which the valid sign-in below must not meet.
 */
const loginModel = (): BodyModel => ({
  valid: fc.record({ email: fc.oneof(fc.constant(people.email), email), password: fc.string({ minLength: 1, maxLength: 40 }) }),
  bad: {
    email: fc.constantFrom('', '   ', 'x'.repeat(255), 5, null, ['a@b.co'], 'a\u0000@b.co'),
    password: fc.constantFrom('', 'x'.repeat(257), 5, null, ['pw'], 'pass\u0000word'),
  },
  required: ['email', 'password'],
});

/** A bearer token for a sign-in (`bulkhead login`): refused bodies only, as for the sign-in. */
const signInTokenModel = (): BodyModel => {
  const m = loginModel();
  return {
    valid: fc.tuple(m.valid, fc.constantFrom('laptop', 'ci runner')).map(([b, name]) => ({ ...b, name })),
    bad: { ...m.bad, name: fc.constantFrom('', '   ', 'x'.repeat(101), 5, null, ['laptop'], 'lap\u0000top') },
    required: ['email', 'password', 'name'],
  };
};

/** A well-formed invite token names no invite the fixture made: 404, and nothing changes. */
const acceptModel = (): BodyModel => ({
  valid: fc.record({
    invite_token: fc.oneof(fc.stringMatching(/^bhi_[A-Za-z0-9_-]{24}$/), fc.string({ minLength: 1, maxLength: 60 })),
    password: fc.string({ minLength: 10, maxLength: 60 }),
  }),
  bad: {
    // Well-formed but nobody's, besides the malformed: each is hashed and looked up (the 404).
    invite_token: fc.oneof(fc.constantFrom('', 'x'.repeat(201), 5, null, ['bhi_x'], 'bhi_\u0000'), fc.stringMatching(/^bhi_[A-Za-z0-9_-]{24}$/)),
    password: fc.constantFrom('', 'x'.repeat(9), 'x'.repeat(257), 5, null, ['correct horse'], 'correct\u0000horse'),
  },
  required: ['invite_token', 'password'],
  semantic: () => ({ status: 404, code: 'invalid_invite' }),
});

const inviteModel = (): BodyModel => ({ valid: fc.record({ email, role: roleName }), bad: { email: badEmail, role: badRole }, required: ['email', 'role'] });

const patchUserModel = (): BodyModel => ({
  valid: fc.record({ role: roleName, disabled: fc.boolean() }, { requiredKeys: [] }),
  bad: { role: badRole, disabled: fc.constantFrom('true', 'false', 1, 0, null, []) },
  required: [],
});

const tokenModel = (): BodyModel => ({
  valid: fc.record({ name: fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s.trim() !== ''), role: roleName }, { requiredKeys: ['name'] }),
  bad: { name: fc.constantFrom('', '   ', 'x'.repeat(101), 5, null, ['ci'], 'c\u0000i'), role: badRole },
  required: ['name'],
});

function peopleSpecs(ops: (url: string) => Spec): Record<string, Spec> {
  const E = endpoint;
  const login = E('POST', '/api/v1/auth/login');
  const signInToken = E('POST', '/api/v1/auth/token');
  const logout = E('POST', '/api/v1/auth/logout');
  const accept = E('POST', '/api/v1/auth/accept-invite');
  const usersList = E('GET', '/api/v1/users');
  const inviteE = E('POST', '/api/v1/users');
  const patchUser = E('PATCH', '/api/v1/users/:id');
  const tokensList = E('GET', '/api/v1/tokens');
  const tokenE = E('POST', '/api/v1/tokens');
  const revoke = E('DELETE', '/api/v1/tokens/:id');
  const auditE = E('GET', '/api/v1/audit');
  const bodyRoute = (e: Endpoint, model: () => BodyModel): fc.Arbitrary<Case> =>
    fc.oneof({ weight: 4, arbitrary: bodyCases(e, model()) }, { weight: 1, arbitrary: transportCases(e, pathOf(e), { csvIsBad: true }) });
  const text = (bad: string[]): fc.Arbitrary<string | string[]> => fc.oneof(fc.constantFrom(...bad), twoOrMore(fc.constant('x')));

  return {
    [endpointKey(login)]: {
      cases: () => bodyRoute(login, loginModel),
      once: () => publicOnce(pathOf(login)),
      // The email as a person might type it: the sign-in is case- and space-insensitive.
      valid: async () => ({ req: jsonReq('POST', pathOf(login), { email: ` ${people.email.toUpperCase()} `, password: people.password }), status: 200 }),
    },
    [endpointKey(signInToken)]: {
      cases: () => bodyRoute(signInToken, signInTokenModel),
      once: () => publicOnce(pathOf(signInToken)),
      valid: async () => ({ req: jsonReq('POST', pathOf(signInToken), { email: people.email, password: people.password, name: 'laptop' }), status: 201 }),
    },
    [endpointKey(logout)]: {
      // No body to get wrong: the transport, and a browser's missing or forged CSRF token.
      cases: () => transportCases(logout, pathOf(logout), { csvIsBad: false }),
      once: () => {
        const s = people.session;
        assert.ok(s, 'the fixture signed in');
        const planted = new Map([...s.jar].map(([k, v]) => [k, k === 'bh_csrf' ? 'planted' : v] as const));
        return [
          { label: 'session without X-CSRF-Token', method: 'POST', url: pathOf(logout), headers: browser(s), expect: { status: 403, code: 'csrf' } },
          { label: "X-CSRF-Token not the cookie's", method: 'POST', url: pathOf(logout), headers: browser(s, `${s.csrf}x`), expect: { status: 403, code: 'csrf' } },
          // Header and cookie agree, but neither is the session's: a cookie planted by a sibling site.
          { label: 'planted CSRF cookie', method: 'POST', url: pathOf(logout), headers: browser(s, 'planted', planted), expect: { status: 403, code: 'csrf' } },
        ];
      },
      valid: async () => {
        const s = await signIn(env, people.email, people.password);
        return { req: { method: 'POST', url: pathOf(logout), headers: browser(s, s.csrf) }, status: 204 };
      },
    },
    [endpointKey(accept)]: {
      cases: () => bodyRoute(accept, acceptModel),
      once: () => [
        ...publicOnce(pathOf(accept)),
        { label: 'invite used already', ...jsonReq('POST', pathOf(accept), { invite_token: people.usedInvite, password: 'another password' }), expect: { status: 404, code: 'invalid_invite' } },
        { label: "a disabled user's invite", ...jsonReq('POST', pathOf(accept), { invite_token: people.disabledInvite, password: 'another password' }), expect: { status: 404, code: 'invalid_invite' } },
        { label: 'the email signs in to another business', ...jsonReq('POST', pathOf(accept), { invite_token: people.takenInvite, password: 'another password' }), expect: { status: 409, code: 'email_taken' } },
      ],
      valid: async () => {
        const { inviteToken } = await inviteAs(t, `invitee${peopleSeq += 1}@people.test`, 'agent');
        return { req: jsonReq('POST', pathOf(accept), { invite_token: inviteToken, password: 'ten chars!' }), status: 200 };
      },
    },
    [endpointKey(E('GET', '/api/v1/me'))]: ops('/api/v1/me'),
    [endpointKey(usersList)]: {
      cases: () => queryCases(usersList, LIST_PARAMS),
      valid: async () => ({ req: { method: 'GET', url: `/api/v1/users?limit=1&cursor=${b64({ id: 1 })}` }, status: 200 }),
    },
    [endpointKey(inviteE)]: {
      cases: () => bodyRoute(inviteE, inviteModel),
      once: () => [
        { label: 'a user of this business', ...jsonReq('POST', pathOf(inviteE), { email: `owner@business-${t.businessId}.local`, role: 'agent' }), expect: { status: 409, code: 'user_exists' } },
        // Already this business's user (in another case): that comes first; email_taken across businesses is the accept-invite case.
        { label: 'a user of this business in other letters', ...jsonReq('POST', pathOf(inviteE), { email: people.email.toUpperCase(), role: 'agent' }), expect: { status: 409, code: 'user_exists' } },
        { label: 'an admin inviting an owner', ...jsonReq('POST', pathOf(inviteE), { email: 'new-owner@people.test', role: 'owner' }), headers: asAdmin(), expect: { status: 403, code: 'forbidden' } },
      ],
      valid: async () => ({ req: jsonReq('POST', pathOf(inviteE), { email: `invitee${peopleSeq += 1}@people.test`, role: 'admin' }), status: 201 }),
    },
    [endpointKey(patchUser)]: {
      cases: () => fc.oneof(
        idCases(patchUser, validBodies(patchUser, patchUserModel())),
        bodyCases(patchUser, patchUserModel(), pathOf(patchUser, people.patchUserId)),
        transportCases(patchUser, pathOf(patchUser, people.patchUserId), { csvIsBad: true }),
      ),
      once: () => [
        { label: 'the last owner demoted', ...jsonReq('PATCH', pathOf(patchUser, t.userId), { role: 'agent' }), expect: { status: 409, code: 'last_owner' } },
        { label: 'the last owner disabled', ...jsonReq('PATCH', pathOf(patchUser, t.userId), { disabled: true }), expect: { status: 409, code: 'last_owner' } },
        { label: 'an admin changing an owner', ...jsonReq('PATCH', pathOf(patchUser, t.userId), { disabled: false }), headers: asAdmin(), expect: { status: 403, code: 'forbidden' } },
        { label: 'an admin granting owner', ...jsonReq('PATCH', pathOf(patchUser, people.patchUserId), { role: 'owner' }), headers: asAdmin(), expect: { status: 403, code: 'forbidden' } },
        { label: "another business's user", ...jsonReq('PATCH', pathOf(patchUser, other.userId), { role: 'agent' }), expect: { status: 404, code: 'not_found' } },
      ],
      valid: async () => ({ req: jsonReq('PATCH', pathOf(patchUser, people.patchUserId), { role: 'admin', disabled: false }), status: 200 }),
    },
    [endpointKey(tokensList)]: {
      cases: () => queryCases(tokensList, LIST_PARAMS),
      valid: async () => ({ req: { method: 'GET', url: `/api/v1/tokens?limit=1&cursor=${b64({ id: 1 })}` }, status: 200 }),
    },
    [endpointKey(tokenE)]: {
      cases: () => bodyRoute(tokenE, tokenModel),
      once: () => [
        { label: 'an admin asking for an owner token', ...jsonReq('POST', pathOf(tokenE), { name: 'up', role: 'owner' }), headers: asAdmin(), expect: { status: 403, code: 'forbidden' } },
      ],
      valid: async () => ({ req: jsonReq('POST', pathOf(tokenE), { name: 'ci', role: 'agent' }), status: 201 }),
    },
    [endpointKey(revoke)]: {
      // Aimed at a spare owner token, never at the one this file signs its requests with.
      cases: () => fc.oneof(idCases(revoke), transportCases(revoke, pathOf(revoke, people.spareTokenId), { csvIsBad: false })),
      once: () => [
        { label: "an admin revoking an owner's token", method: 'DELETE', url: pathOf(revoke, people.spareTokenId), headers: { authorization: `Bearer ${people.adminToken}` }, expect: { status: 403, code: 'forbidden' } },
        { label: "another business's token", method: 'DELETE', url: pathOf(revoke, people.otherTokenId), expect: { status: 404, code: 'not_found' } },
      ],
      valid: async () => ({ req: { method: 'DELETE', url: pathOf(revoke, (await mintToken(`doomed ${peopleSeq += 1}`, 'agent')).id) }, status: 204 }),
    },
    [endpointKey(auditE)]: {
      cases: () => queryCases(auditE, {
        ...LIST_PARAMS,
        action: { valid: fc.constantFrom('user.invite', 'token.create', 'job.accepted', 'nope'), bad: text(['a'.repeat(65), 'a\u0000b']) },
        user_id: { valid: fc.constant(String(t.userId)), bad: fc.oneof(fc.constantFrom('0', '-1', '1.5', 'abc', '9007199254740993', '1e400', ''), twoOrMore(fc.constant('1'))) },
        target_type: { valid: fc.constantFrom('user', 'token'), bad: text(['t'.repeat(33), 'user\u0000']) },
        target_id: { valid: fc.constant(String(people.patchUserId)), bad: text(['9'.repeat(65), '\u0000']) },
      }),
      valid: async () => ({ req: { method: 'GET', url: `/api/v1/audit?action=user.invite&user_id=${t.userId}&target_type=user&limit=5` }, status: 200 }),
    },
  };
}

function specs(): Record<string, Spec> {
  const E = endpoint;
  const ops = (url: string, routed: Method[] = []): Spec => ({
    // Ops routes take no input; what a client can get wrong is the method and the URL.
    // (fast-check likes "__proto__" keys; such a body is refused as invalid JSON before routing to 404, a case of its own.)
    cases: () => fc.tuple(fc.constantFrom<Method | 'PUT'>(...(['POST', 'PUT', 'PATCH', 'DELETE'] as const).filter((m) => !(routed as string[]).includes(m))), fc.option(fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)), { nil: undefined }))
      .filter(([, payload]) => !/"(__proto__|constructor)"/.test(payload ?? ''))
      .map(([method, payload]): Case => ({ label: 'wrong method', method, url, expect: { status: 404, code: 'not_found' }, ...(payload === undefined ? {} : { headers: JSON_CT, payload }) })),
    valid: async () => ({ req: { method: 'GET', url }, status: 200 }),
  });
  const byId = (e: Endpoint, validId: () => number | string, status = 200): Spec => ({
    cases: () => idCases(e),
    valid: async () => ({ req: { method: e.method, url: pathOf(e, validId()) }, status }),
  });
  const child = (e: Endpoint, model: () => BodyModel, validBody: Body, once?: () => Case[]): Spec => ({
    cases: () => fc.oneof(idCases(e, validBodies(e, model())), bodyCases(e, model(), pathOf(e, fx.leadId)), transportCases(e, pathOf(e, fx.leadId), { csvIsBad: true })),
    ...(once ? { once } : {}),
    valid: async () => ({ req: jsonReq('POST', pathOf(e, fx.leadId), validBody), status: 201 }),
  });
  /** Dates the zod format admits but PostgreSQL refuses (each was a 500), sent every run. */
  const unstorableDates = (url: string, field: string, body: (date: string) => Body): Case[] =>
    ['0000-06-15T12:00:00Z', '9999-12-31T23:00:00-05:00'].map((date) => ({
      label: `unstorable ${field}`, ...jsonReq('POST', url, body(date)), expect: { status: 400, at: `body.${field}` },
    }));
  const transition = (name: 'pause' | 'resume' | 'cancel'): Spec => {
    const e = E('POST', `/api/v1/jobs/:id/${name}`);
    return {
      cases: () => fc.oneof(idCases(e), transportCases(e, pathOf(e, fx.queuedJobId), { csvIsBad: false })),
      // Not allowed from the job's state: a 409 that changes nothing.
      once: () => [
        { label: 'job is cancelled', method: 'POST', url: pathOf(e, fx.cancelledJobId), expect: { status: 409, code: 'invalid_transition' } },
        ...(name === 'resume' ? [{ label: 'job is queued', method: 'POST' as const, url: pathOf(e, fx.queuedJobId), expect: { status: 409, code: 'invalid_transition' } }] : []),
      ],
      valid: async () => {
        const job = await ok(t, 'POST', '/api/v1/leads/bulk-update', { lead_ids: [fx.leadId], set: { status: `s${phoneSeq += 1}` } }, 202);
        if (name === 'resume') await ok(t, 'POST', `/api/v1/jobs/${job.job_id}/pause`, undefined, 200);
        return { req: { method: 'POST', url: pathOf(e, job.job_id) }, status: 200 };
      },
      cleanup: async (job) => {
        if (job.status !== 'cancelled') await ok(t, 'POST', `/api/v1/jobs/${job.id}/cancel`, undefined, 200);
      },
    };
  };
  const jobCreating = (e: Endpoint, model: () => BodyModel, validBody: () => Body, once: () => Case[] = () => []): Spec => ({
    cases: () => fc.oneof(
      { weight: 4, arbitrary: bodyCases(e, model()) },
      { weight: 1, arbitrary: headerCases(e, ['idempotency-key'], validBodies(e, model()).map((b) => jsonReq(e.method, pathOf(e), b))) },
      { weight: 2, arbitrary: transportCases(e, pathOf(e), { csvIsBad: true }) },
    ),
    once,
    valid: async () => ({ req: jsonReq(e.method, pathOf(e), validBody()), status: 202 }),
    cleanup: cancelJob,
  });
  const tooManyIdsCase = (url: string, body: (ids: number[]) => Body): Case => ({
    label: '100 001 lead ids', method: 'POST', url, headers: JSON_CT, payload: JSON.stringify(body(tooManyIds())), expect: { status: 400, at: 'body' }, // refused by the shape scan, before parsing
  });

  const importE = E('POST', '/api/v1/leads/import');
  const leadsList = E('GET', '/api/v1/leads');
  const jobsList = E('GET', '/api/v1/jobs');
  const receiptsList = E('GET', '/api/v1/receipts');
  const createBiz = E('POST', '/api/v1/admin/businesses');
  const patchBiz = E('PATCH', '/api/v1/admin/businesses/:id');
  const addUser = E('POST', '/api/v1/admin/businesses/:id/users');
  const createBizModel = (): BodyModel => ({
    valid: fc.record({ name: fc.constantFrom('Acme', 'Globex'), max_outbound_calls: fc.integer({ min: 1, max: 1000 }), timezone: fc.constantFrom('UTC', 'Europe/London'), default_country: fc.constantFrom('US', 'GB'), email }, { requiredKeys: ['name'] }),
    bad: {
      name: badName,
      max_outbound_calls: fc.constantFrom(0, 1001, 1.5, '3', -1, 2 ** 53, null),
      timezone: fc.constantFrom('Mars/Olympus', '', 'x'.repeat(65), 'utc+99', 5, 'UTC\u0000'),
      default_country: fc.constantFrom('us', 'USA', '1', '', 'ÜS'),
      email: badEmail,
    },
    required: ['name'],
  });
  const patchBizModel = (): BodyModel => ({
    valid: fc.record({ max_outbound_calls: fc.integer({ min: 1, max: 1000 }), timezone: fc.constantFrom('UTC', 'Asia/Tokyo') }, { requiredKeys: [] }),
    bad: {
      max_outbound_calls: fc.constantFrom(0, 1001, 1.5, '3', null),
      timezone: fc.constantFrom('Mars/Olympus', '', 5),
      rate_limits: fc.constantFrom({ no_such_op: 1 }, { delete_leads_bulk: -1 }, { delete_leads_bulk: 1.5 }, { delete_leads_bulk: 100_001 }, { import_leads: '5' }, [], 'x', null),
    },
    required: [],
  });
  const addUserModel = (): BodyModel => ({ valid: fc.record({ email, role: roleName }, { requiredKeys: ['email'] }), bad: { email: badEmail, role: badRole }, required: ['email'] });
  const settingsE = E('PATCH', '/api/v1/outbound/settings');
  const dncList = E('GET', '/api/v1/outbound/dnc');
  const dncAdd = E('POST', '/api/v1/outbound/dnc');
  const dncRemove = E('DELETE', '/api/v1/outbound/dnc/:phone');
  const runsE = E('POST', '/api/v1/outbound/runs');
  const runItems = E('GET', '/api/v1/outbound/runs/:id/items');
  const callsE = E('POST', '/api/v1/outbound/calls');
  const callsList = E('GET', '/api/v1/calls');
  const recordingE = E('GET', '/api/v1/calls/:call_sid/recording');
  const transcriptE = E('GET', '/api/v1/calls/:call_sid/transcript');
  const transcribeE = E('POST', '/api/v1/calls/transcribe');
  const transcribeModel = (): BodyModel => ({
    valid: fc.oneof(fc.constant({ call_sids: [fx.callSid] }), fc.constant({ run_id: fx.runId })),
    bad: { call_sids: fc.oneof(fc.constant([]), badSid.map((s) => [s]), fc.constant('CA'), fc.constant(null)), run_id: fc.constantFrom(0, -1, 1.5, '1', null, 2 ** 53) },
    required: [],
    // Well-formed but naming no recorded call of the business.
    semantic: (b) => (b.call_sids !== undefined && JSON.stringify(b.call_sids) === JSON.stringify([fx.callSid])) || b.run_id === fx.runId ? null : { status: 404, code: 'not_found' },
  });
  const broadcastE = E('POST', '/api/v1/whatsapp/broadcasts');
  const broadcastsList = E('GET', '/api/v1/whatsapp/broadcasts');
  const runsList = E('GET', '/api/v1/outbound/runs');
  const recipientsE = E('GET', '/api/v1/whatsapp/broadcasts/:id/recipients');
  const optOutE = E('POST', '/api/v1/whatsapp/opt-outs');
  const optOutsList = E('GET', '/api/v1/whatsapp/opt-outs');
  const twilioStatus = E('POST', '/webhooks/twilio/voice/status');
  const twilioRecording = E('POST', '/webhooks/twilio/voice/recording');
  const voiceHook = (hook: string) => E('POST', `/webhooks/twilio/voice/${hook}`);
  const callSidBad = { CallSid: badSid.filter((v) => v !== '') };
  const waVerify = E('GET', '/webhooks/whatsapp');
  const waEvents = E('POST', '/webhooks/whatsapp');

  return {
    [endpointKey(E('GET', '/healthz'))]: ops('/healthz'),
    [endpointKey(E('GET', '/readyz'))]: ops('/readyz'),
    [endpointKey(E('GET', '/metrics'))]: ops('/metrics'),
    [endpointKey(E('GET', '/'))]: ops('/'),
    [endpointKey(E('GET', '/assets/app.js'))]: ops('/assets/app.js'),
    [endpointKey(E('GET', '/assets/app.css'))]: ops('/assets/app.css'),

    [endpointKey(createBiz)]: {
      cases: () => fc.oneof({ weight: 4, arbitrary: bodyCases(createBiz, createBizModel()) }, { weight: 1, arbitrary: transportCases(createBiz, pathOf(createBiz), { csvIsBad: true }) }),
      valid: async () => ({ req: jsonReq('POST', pathOf(createBiz), { name: 'Valid Co' }), status: 201 }),
    },
    [endpointKey(patchBiz)]: {
      // Bad bodies aim at the other business: a body that slipped through would change it, and the snapshot would tell.
      cases: () => fc.oneof(
        idCases(patchBiz, validBodies(patchBiz, patchBizModel())),
        bodyCases(patchBiz, patchBizModel(), pathOf(patchBiz, other.businessId)),
        transportCases(patchBiz, pathOf(patchBiz, other.businessId), { csvIsBad: true }),
      ),
      valid: async () => ({ req: jsonReq('PATCH', pathOf(patchBiz, other.businessId), { max_outbound_calls: 4 }), status: 200 }),
    },
    [endpointKey(addUser)]: {
      cases: () => fc.oneof(
        idCases(addUser, validBodies(addUser, addUserModel())),
        bodyCases(addUser, addUserModel(), pathOf(addUser, other.businessId)),
        transportCases(addUser, pathOf(addUser, other.businessId), { csvIsBad: true }),
      ),
      once: () => [{ label: 'email taken', ...jsonReq('POST', pathOf(addUser, t.businessId), { email: `owner@business-${t.businessId}.local` }), expect: { status: 409, code: 'user_exists' } }],
      valid: async () => ({ req: jsonReq('POST', pathOf(addUser, other.businessId), { email: 'second@example.com' }), status: 201 }),
    },
    ...peopleSpecs(ops),

    [endpointKey(jobsList)]: {
      cases: () => queryCases(jobsList, {
        ...LIST_PARAMS,
        status: { valid: fc.constantFrom('queued', 'cancelled'), bad: fc.oneof(fc.constantFrom('', 'QUEUED', 'done', 'queued '), twoOrMore(fc.constant('queued')), urlString) },
        type: { valid: fc.constantFrom('import_leads', 'nope'), bad: fc.oneof(fc.constantFrom('t'.repeat(65), 'a\u0000b'), twoOrMore(fc.constant('x'))) },
      }),
      valid: async () => ({ req: { method: 'GET', url: '/api/v1/jobs?status=cancelled&limit=500' }, status: 200 }),
    },
    [endpointKey(E('GET', '/api/v1/jobs/:id'))]: byId(E('GET', '/api/v1/jobs/:id'), () => fx.queuedJobId),
    [endpointKey(E('POST', '/api/v1/jobs/:id/pause'))]: transition('pause'),
    [endpointKey(E('POST', '/api/v1/jobs/:id/resume'))]: transition('resume'),
    [endpointKey(E('POST', '/api/v1/jobs/:id/cancel'))]: transition('cancel'),
    // A terminal job: the stream sends its one event and closes, so inject returns.
    [endpointKey(E('GET', '/api/v1/jobs/:id/events'))]: byId(E('GET', '/api/v1/jobs/:id/events'), () => fx.cancelledJobId),

    [endpointKey(E('POST', '/api/v1/leads'))]: {
      cases: () => fc.oneof({ weight: 4, arbitrary: bodyCases(E('POST', '/api/v1/leads'), leadModel()) }, { weight: 1, arbitrary: transportCases(E('POST', '/api/v1/leads'), '/api/v1/leads', { csvIsBad: true }) }),
      once: () => [
        { label: 'phone taken', ...jsonReq('POST', '/api/v1/leads', { phone: '(212) 555-0100' }), expect: { status: 409, code: 'lead_exists' } },
        { label: 'deeply nested', method: 'POST', url: '/api/v1/leads', headers: JSON_CT, payload: `{"phone": "+16465550001", "x": ${deeplyNested('1')}}`, expect: { status: 400, at: 'body' } },
        { label: 'huge integer literal', method: 'POST', url: '/api/v1/leads', headers: JSON_CT, payload: '{"phone": 99999999999999999999999999999999999}', expect: { status: 400, at: 'body.phone' } },
        { label: '__proto__ key', method: 'POST', url: '/api/v1/leads', headers: JSON_CT, payload: '{"phone": "+16465550001", "__proto__": {"admin": true}}', expect: { status: 400, at: 'body' } },
      ],
      valid: async () => ({ req: jsonReq('POST', '/api/v1/leads', { phone: freshPhone(), tags: ['a'] }), status: 201 }),
    },
    [endpointKey(leadsList)]: {
      cases: () => queryCases(leadsList, {
        ...LIST_PARAMS,
        status: { valid: slug, bad: fc.oneof(badSlug, twoOrMore(fc.constant('new'))) },
        source: { valid: fc.constantFrom('manual', 'import'), bad: fc.oneof(fc.constantFrom('', 'Manual', 'api', 'import '), twoOrMore(fc.constant('manual')), urlString) },
        import_id: { valid: fc.constant(String(fx.importId)), bad: fc.oneof(fc.constantFrom('0', '-1', '1.5', 'abc', '9007199254740993', '1e400', ''), twoOrMore(fc.constant('1'))) },
        tag: { valid: fc.constantFrom('vip', 'x'), bad: fc.oneof(fc.constantFrom('', '   ', 't'.repeat(51), 'a\u0000'), twoOrMore(fc.constant('vip'))) },
        q: { valid: fc.constantFrom('212', 'Fixture', '%_\\'), bad: fc.oneof(fc.constantFrom('q'.repeat(201), 'a\u0000b', '\u0000'), twoOrMore(fc.constant('a'))) },
      }),
      valid: async () => ({ req: { method: 'GET', url: `/api/v1/leads?import_id=${fx.importId}&source=import&q=212&limit=2` }, status: 200 }),
    },
    [endpointKey(E('GET', '/api/v1/leads/:id'))]: byId(E('GET', '/api/v1/leads/:id'), () => fx.leadId),
    [endpointKey(E('POST', '/api/v1/leads/:id/notes'))]: child(E('POST', '/api/v1/leads/:id/notes'), noteModel, { text: 'hello' }),
    [endpointKey(E('POST', '/api/v1/leads/:id/activities'))]: child(E('POST', '/api/v1/leads/:id/activities'), activityModel, { type: 'call', text: 'hello' }),
    [endpointKey(E('POST', '/api/v1/leads/:id/reminders'))]: child(
      E('POST', '/api/v1/leads/:id/reminders'), reminderModel, { due_at: '2030-01-01T09:00:00+02:00', text: 'hello' },
      () => unstorableDates(pathOf(E('POST', '/api/v1/leads/:id/reminders'), fx.leadId), 'due_at', (due_at) => ({ due_at, text: 'x' })),
    ),
    [endpointKey(importE)]: {
      cases: () => {
        const model = importJsonModel();
        const json = fc.oneof(fc.jsonValue({ maxDepth: 3 }), garbage, model.valid.chain((v) => fc.constantFrom(...Object.keys(model.bad)).chain((f) => (model.bad[f] as fc.Arbitrary<unknown>).map((x) => ({ ...v, [f]: x })))), fc.tuple(model.valid, fc.string({ minLength: 1, maxLength: 8 }), garbage).map(([v, k, g]) => ({ ...v, [k]: g })))
          .map((b) => JSON.stringify(b))
          .map((payload) => ({ payload, expect: importVerdict(JSON.parse(payload), 'application/json') }))
          .filter((c): c is { payload: string; expect: Expect } => c.expect !== null)
          .map(({ payload, expect }): Case => ({ label: 'bad JSON import', method: 'POST', url: pathOf(importE), headers: JSON_CT, payload, expect }));
        const csv = fc.tuple(badCsv, fc.constantFrom('text/csv', 'text/plain', 'text/csv; charset=utf-8'))
          .filter(([text, type]) => importVerdict(text, type) !== null)
          .map(([payload, type]): Case => ({ label: 'bad CSV import', method: 'POST', url: pathOf(importE), headers: { 'content-type': type }, payload, expect: { status: 400, at: 'body' } }));
        const validCsv: Req = { method: 'POST', url: pathOf(importE), headers: { 'content-type': 'text/csv' }, payload: 'phone\n+16465550002\n' };
        const filename = fc.constantFrom('', '   ', 'f'.repeat(256), 'a\u0000b')
          .map((f): Case => ({ ...validCsv, label: 'bad ?filename', url: `${pathOf(importE)}?filename=${encodeURIComponent(f)}`, expect: { status: 400, at: 'querystring' } }));
        return fc.oneof(json, csv, filename, headerCases(importE, ['idempotency-key', 'x-filename'], fc.constant(validCsv)), transportCases(importE, pathOf(importE), { csvIsBad: false }));
      },
      once: () => [
        { label: '100 001 JSON rows', ...jsonReq('POST', pathOf(importE), { leads: tooManyIds().map((n) => ({ phone: String(n) })) }), expect: { status: 400, at: 'body' } },
        { label: '100 001 CSV rows', method: 'POST', url: pathOf(importE), headers: { 'content-type': 'text/csv' }, payload: `phone\n${tooManyIds().join('\n')}`, expect: { status: 400, at: 'body' } },
        // Unstorable text in a row is that row's error (the job's); in the filename it is a 400.
        { label: 'NUL in the filename', ...jsonReq('POST', pathOf(importE), { leads: [{ phone: '+16465550003' }], filename: 'a\u0000.csv' }), expect: { status: 400, at: 'body.filename' } },
        { label: 'lone surrogate in the filename', ...jsonReq('POST', pathOf(importE), { leads: [{ phone: '+16465550003' }], filename: 'a\ud800.csv' }), expect: { status: 400, at: 'body.filename' } },
        { label: 'CSV as a JSON string', ...jsonReq('POST', pathOf(importE), 'phone\n+16465550003'), expect: { status: 400, at: 'body' } },
        { label: 'deeply nested', method: 'POST', url: pathOf(importE), headers: JSON_CT, payload: `{"leads": [{"phone": "+16465550003", "name": ${deeplyNested('"x"')}}]}`, expect: { status: 400, at: 'body' } },
      ],
      // Valid: a bad cell is a per-row error of the job, even a nested one (200 000 levels deep was
      // once a 500; beyond 32 levels the shape scan now refuses the body, case 'deeply nested' above).
      valid: async () => ({
        req: { method: 'POST', url: pathOf(importE), headers: JSON_CT, payload: `{"leads": [{"phone": "${freshPhone()}", "name": ${deeplyNested('"x"', 20)}}]}` },
        status: 202,
      }),
      cleanup: cancelJob,
    },
    [endpointKey(E('GET', '/api/v1/imports/:id'))]: byId(E('GET', '/api/v1/imports/:id'), () => fx.importId),
    [endpointKey(E('POST', '/api/v1/leads/bulk-delete'))]: jobCreating(E('POST', '/api/v1/leads/bulk-delete'), bulkDeleteModel, () => ({ lead_ids: [MAX_SAFE] }), () => [
      tooManyIdsCase('/api/v1/leads/bulk-delete', (ids) => ({ lead_ids: ids })),
    ]),
    [endpointKey(E('POST', '/api/v1/leads/bulk-update'))]: jobCreating(E('POST', '/api/v1/leads/bulk-update'), bulkUpdateModel, () => ({ lead_ids: [fx.leadId], set: { owner_user_id: t.userId } }), () => [
      tooManyIdsCase('/api/v1/leads/bulk-update', (ids) => ({ lead_ids: ids, set: { status: 'x' } })),
    ]),
    [endpointKey(E('POST', '/api/v1/leads/imported/bulk-delete'))]: jobCreating(E('POST', '/api/v1/leads/imported/bulk-delete'), deleteImportedModel, () => ({ import_id: fx.importId }), () => [
      tooManyIdsCase('/api/v1/leads/imported/bulk-delete', (ids) => ({ lead_ids: ids })),
    ]),

    // ---- Trash. The fixture's cancelled bulk delete is the tenant's one delete job the oracle knows
    // (nothing of it is in the trash: a restore of it is accepted with total 0). Other job ids are
    // sent only when surely not a delete job of the tenant (404); a generated id that might be one
    // (a valid bulk delete above made some) is left out rather than guessed.
    ...((restoreE: Endpoint, trashList: Endpoint): Record<string, Spec> => {
      const notTenantDeleteJobs = new Set([fx.queuedJobId, fx.otherJobId, MAX_SAFE, 10 ** 12]);
      const restoreModel = (): BodyModel => ({
        valid: fc.oneof(fc.constant({ job_id: fx.cancelledJobId }), fc.record({ lead_ids: leadIds })),
        bad: {
          job_id: fc.oneof(badId, fc.constantFrom(...notTenantDeleteJobs)),
          lead_ids: badLeadIds,
        },
        required: [],
        semantic: (b) => {
          if (typeof b.job_id !== 'number' || b.job_id === fx.cancelledJobId) return null;
          return notTenantDeleteJobs.has(b.job_id) ? { status: 404, code: 'not_found' } : null;
        },
      });
      return {
        [endpointKey(trashList)]: {
          cases: () => queryCases(trashList, {
            ...LIST_PARAMS,
            job_id: { valid: fc.constant(String(fx.cancelledJobId)), bad: fc.oneof(fc.constantFrom('0', '-1', '1.5', 'abc', '9007199254740993', '1e400', ''), twoOrMore(fc.constant('1'))) },
          }),
          valid: async () => ({ req: { method: 'GET', url: `${pathOf(trashList)}?job_id=${fx.cancelledJobId}&limit=1&cursor=${b64({ id: 1 })}` }, status: 200 }),
        },
        [endpointKey(restoreE)]: jobCreating(restoreE, restoreModel, () => ({ job_id: fx.cancelledJobId }), () => [
          tooManyIdsCase(pathOf(restoreE), (ids) => ({ lead_ids: ids })),
          { label: 'both scopes', ...jsonReq('POST', pathOf(restoreE), { job_id: fx.cancelledJobId, lead_ids: [1] }), expect: { status: 400, at: 'body' } },
          { label: 'an import job', ...jsonReq('POST', pathOf(restoreE), { job_id: fx.queuedJobId }), expect: { status: 404, code: 'not_found' } },
          { label: "another business's job", ...jsonReq('POST', pathOf(restoreE), { job_id: fx.otherJobId }), expect: { status: 404, code: 'not_found' } },
        ]),
      };
    })(E('POST', '/api/v1/trash/restore'), E('GET', '/api/v1/trash/leads')),

    [endpointKey(E('POST', '/api/v1/receipts'))]: {
      cases: () => fc.oneof({ weight: 4, arbitrary: bodyCases(E('POST', '/api/v1/receipts'), receiptModel()) }, { weight: 1, arbitrary: transportCases(E('POST', '/api/v1/receipts'), '/api/v1/receipts', { csvIsBad: true }) }),
      once: () => unstorableDates('/api/v1/receipts', 'issued_at', (issued_at) => ({ vendor: 'v', amount: 1, currency: 'USD', issued_at })),
      valid: async () => ({ req: jsonReq('POST', '/api/v1/receipts', { vendor: 'Cafe', amount: 12.5, currency: 'EUR', issued_at: '2024-05-01T10:00:00+14:00' }), status: 201 }),
    },
    [endpointKey(receiptsList)]: {
      cases: () => queryCases(receiptsList, LIST_PARAMS),
      valid: async () => ({ req: { method: 'GET', url: `/api/v1/receipts?limit=1&cursor=${b64({ id: 1 })}` }, status: 200 }),
    },
    [endpointKey(E('DELETE', '/api/v1/receipts'))]: {
      // No body to get wrong: the Idempotency-Key header and the transport are what can be bad.
      cases: () => fc.oneof(
        headerCases(E('DELETE', '/api/v1/receipts'), ['idempotency-key'], fc.constant<Req>({ method: 'DELETE', url: '/api/v1/receipts' })),
        transportCases(E('DELETE', '/api/v1/receipts'), '/api/v1/receipts', { csvIsBad: false }),
      ),
      valid: async () => ({ req: { method: 'DELETE', url: '/api/v1/receipts' }, status: 202 }),
      cleanup: cancelJob,
    },

    // ---- Receipts from Gmail (issue 17). The tenant connects through the simulator's consent
    // when a valid request needs it; no worker runs, so an accepted sync stays queued.
    ...((syncE: Endpoint, attachmentE: Endpoint, connectE: Endpoint, statusE: Endpoint, disconnectE: Endpoint, callbackE: Endpoint): Record<string, Spec> => {
      /** Our callback's path and query, as Google's consent sends the browser back. */
      const consented = async (): Promise<string> => {
        const started = (await ok(t, 'POST', pathOf(connectE), undefined, 200)) as unknown as { auth_url: string };
        const google = await fetch(started.auth_url, { redirect: 'manual' });
        const back = new URL(google.headers.get('location') ?? '');
        return `${back.pathname}${back.search}`;
      };
      const connected = async (): Promise<void> => {
        const res = await env.app.inject({ method: 'GET', url: pathOf(statusE), headers: t.headers });
        if ((res.json() as { connected: boolean }).connected) return;
        const done = await env.app.inject({ method: 'GET', url: await consented() });
        assert.equal(done.statusCode, 200, done.body);
      };
      const syncModel = (): BodyModel => ({ valid: fc.record({ full: fc.boolean() }, { requiredKeys: [] }), bad: { full: fc.constantFrom('true', 1, 0, null, [], 'yes') }, required: [] });
      const unknownState = 'x'.repeat(43);
      return {
        [endpointKey(syncE)]: {
          cases: () => fc.oneof(
            { weight: 4, arbitrary: bodyCases(syncE, syncModel()) },
            { weight: 1, arbitrary: headerCases(syncE, ['idempotency-key'], validBodies(syncE, syncModel()).map((b) => jsonReq('POST', pathOf(syncE), b))) },
            { weight: 2, arbitrary: transportCases(syncE, pathOf(syncE), { csvIsBad: true }) },
          ),
          once: () => [{ label: 'Gmail not connected', ...jsonReq('POST', pathOf(syncE), {}), expect: { status: 409, code: 'gmail_not_connected' } }],
          valid: async () => {
            await connected();
            return { req: jsonReq('POST', pathOf(syncE), { full: false }), status: 202 };
          },
          cleanup: cancelJob,
        },
        [endpointKey(attachmentE)]: {
          cases: () => idCases(attachmentE),
          valid: async () => {
            const { rows } = await env.pool.query<{ id: number }>(
              `INSERT INTO receipts (business_id, vendor, amount, currency, issued_at, source, gmail_message_id, has_attachment)
               VALUES ($1, 'Fixture', 1, 'ILS', now(), 'gmail', 'fixture', true) RETURNING id`, [t.businessId]);
            const id = rows[0]?.id ?? 0;
            await env.pool.query(`INSERT INTO receipt_attachments (receipt_id, business_id, filename, content_type, bytes) VALUES ($1, $2, 'r.pdf', 'application/pdf', $3)`, [id, t.businessId, Buffer.from('%PDF-1.4')]);
            return { req: { method: 'GET', url: pathOf(attachmentE, id) }, status: 200 };
          },
        },
        [endpointKey(connectE)]: {
          cases: () => transportCases(connectE, pathOf(connectE), { csvIsBad: false }),
          valid: async () => ({ req: { method: 'POST', url: pathOf(connectE) }, status: 200 }),
        },
        [endpointKey(statusE)]: ops(pathOf(statusE), ['DELETE']),
        [endpointKey(disconnectE)]: {
          cases: () => transportCases(disconnectE, pathOf(disconnectE), { csvIsBad: false }),
          valid: async () => ({ req: { method: 'DELETE', url: pathOf(disconnectE) }, status: 204 }),
        },
        [endpointKey(callbackE)]: {
          cases: () => queryCases(callbackE, {
            code: { valid: fc.constant('4/0Acode'), bad: fc.constantFrom('', 'c'.repeat(2049), ['a', 'b']) },
            state: { valid: fc.constant(unknownState), bad: fc.constantFrom('', 's'.repeat(201), [unknownState, unknownState]) },
            error: { valid: fc.constant('access_denied'), bad: fc.constantFrom('', 'e'.repeat(201)) },
          }),
          once: () => [
            { label: 'a state we never gave out', method: 'GET', url: `${pathOf(callbackE)}?code=4%2F0Acode&state=${unknownState}`, expect: { status: 403, code: 'oauth_state_invalid' } },
            { label: 'no state', method: 'GET', url: `${pathOf(callbackE)}?code=4%2F0Acode`, expect: { status: 403, code: 'oauth_state_invalid' } },
            { label: 'consent refused, unknown state', method: 'GET', url: `${pathOf(callbackE)}?error=access_denied&state=${unknownState}`, expect: { status: 403, code: 'oauth_state_invalid' } },
          ],
          valid: async () => ({ req: { method: 'GET', url: await consented() }, status: 200 }),
        },
      };
    })(
      E('POST', '/api/v1/receipts/sync'), E('GET', '/api/v1/receipts/:id/attachment'), E('POST', '/api/v1/integrations/gmail/connect'),
      E('GET', '/api/v1/integrations/gmail'), E('DELETE', '/api/v1/integrations/gmail'), E('GET', '/oauth/google/callback'),
    ),

    // ---- Outbound calls.
    [endpointKey(E('GET', '/api/v1/outbound/active'))]: ops('/api/v1/outbound/active'),
    [endpointKey(E('GET', '/api/v1/outbound/settings'))]: ops('/api/v1/outbound/settings', ['PATCH']),
    [endpointKey(settingsE)]: {
      cases: () => fc.oneof({ weight: 4, arbitrary: bodyCases(settingsE, settingsModel()) }, { weight: 1, arbitrary: transportCases(settingsE, pathOf(settingsE), { csvIsBad: true }) }),
      once: () => [
        { label: 'deeply nested', method: 'PATCH', url: pathOf(settingsE), headers: JSON_CT, payload: `{"retry": ${deeplyNested('{}')}}`, expect: { status: 400, at: 'body' } },
      ],
      valid: async () => ({ req: jsonReq('PATCH', pathOf(settingsE), { calling_hours: { start: '09:00', end: '17:30' }, retry: { busy: 1 }, max_call_s: null }), status: 200 }),
    },
    [endpointKey(dncList)]: {
      cases: () => queryCases(dncList, {
        limit: LIST_PARAMS.limit as QueryParam,
        cursor: {
          valid: validPhone.map((p) => Buffer.from(p).toString('base64url')),
          bad: fc.oneof(
            fc.constantFrom('AA', b64({ id: 1 }), Buffer.from('+1212\u00005550100').toString('base64url'), Buffer.from([0xff, 0xfe]).toString('base64url'), 'garbage', 'x'.repeat(201), '%%%'),
            fc.jsonValue({ maxDepth: 2 }).map(b64),
            urlString,
            twoOrMore(fc.constant(Buffer.from('+12125550100').toString('base64url'))),
          ),
        },
      }, undefined, { cursorOk: (c) => c === '' || /^\+[0-9]{1,20}$/.test(Buffer.from(c, 'base64url').toString('utf8')) }),
      valid: async () => ({ req: { method: 'GET', url: `/api/v1/outbound/dnc?limit=1&cursor=${Buffer.from('+1').toString('base64url')}` }, status: 200 }),
    },
    [endpointKey(dncAdd)]: {
      cases: () => fc.oneof({ weight: 4, arbitrary: bodyCases(dncAdd, dncModel()) }, { weight: 1, arbitrary: transportCases(dncAdd, pathOf(dncAdd), { csvIsBad: true }) }),
      valid: async () => ({ req: jsonReq('POST', pathOf(dncAdd), { phone: freshPhone(), reason: 'asked twice' }), status: 201 }),
    },
    [endpointKey(dncRemove)]: {
      cases: () => dncPhoneCases(dncRemove),
      once: () => [{ label: 'phone of another business', method: 'DELETE', url: pathOf(dncRemove, encodeURIComponent('+12125550100')), expect: { status: 404, code: 'not_found' } }],
      valid: async () => {
        const phone = freshPhone();
        await ok(t, 'POST', '/api/v1/outbound/dnc', { phone }, 201);
        // Written as the user typed it: the route normalizes it as POST did.
        return { req: { method: 'DELETE', url: pathOf(dncRemove, encodeURIComponent(`(${phone.slice(2, 5)}) ${phone.slice(5, 8)}-${phone.slice(8)}`)) }, status: 204 };
      },
    },
    [endpointKey(runsE)]: jobCreating(runsE, runModel, () => ({ lead_ids: [fx.leadId, 10 ** 12 + (phoneSeq += 1)], concurrency: 2 }), () => [
      tooManyIdsCase(pathOf(runsE), (ids) => ({ lead_ids: ids })),
      { label: 'deeply nested', method: 'POST', url: pathOf(runsE), headers: JSON_CT, payload: `{"lead_ids": ${deeplyNested('1')}}`, expect: { status: 400, at: 'body' } },
      // The fixture's run holds the lock of its lead set.
      { label: 'same leads as an active run', ...jsonReq('POST', pathOf(runsE), { lead_ids: [fx.dncLeadId, fx.leadId] }), expect: { status: 429, code: 'operation_in_progress' } },
    ]),
    [endpointKey(E('GET', '/api/v1/outbound/runs/:id'))]: byId(E('GET', '/api/v1/outbound/runs/:id'), () => fx.runId),
    [endpointKey(runItems)]: {
      cases: () => fc.oneof(idCases(runItems), queryCases(runItems, LIST_PARAMS, undefined, { url: pathOf(runItems, fx.runId) })),
      valid: async () => ({ req: { method: 'GET', url: `${pathOf(runItems, fx.runId)}?limit=1` }, status: 200 }),
    },
    [endpointKey(callsE)]: {
      cases: () => fc.oneof({ weight: 4, arbitrary: bodyCases(callsE, callsModel()) }, { weight: 1, arbitrary: transportCases(callsE, pathOf(callsE), { csvIsBad: true }) }),
      once: () => [
        { label: 'four leads', ...jsonReq('POST', pathOf(callsE), { lead_ids: [fx.leadId, fx.dncLeadId, 3, 4] }), expect: { status: 400, at: 'body.lead_ids' } },
        { label: 'on the do-not-call list', ...jsonReq('POST', pathOf(callsE), { lead_ids: [fx.dncLeadId] }), expect: { status: 422, code: 'do_not_call' } },
        { label: "another business's lead", ...jsonReq('POST', pathOf(callsE), { lead_ids: [fx.leadId, fx.otherLeadId] }), expect: { status: 404, code: 'not_found' } },
      ],
      valid: async () => ({ req: jsonReq('POST', pathOf(callsE), { lead_ids: [fx.leadId] }), status: 201 }),
      // The call rings and ends in ~20 ms; its callbacks must be in before the next snapshot.
      cleanup: async (answer) => waitForSettledCalls((answer.calls ?? []).map((c) => c.id)),
    },
    [endpointKey(callsList)]: {
      cases: () => queryCases(callsList, {
        ...LIST_PARAMS,
        lead_id: { valid: fc.constant(String(fx.leadId)), bad: fc.oneof(fc.constantFrom('0', '-1', '1.5', 'abc', '9007199254740993', '1e400', ''), twoOrMore(fc.constant('1'))) },
        status: {
          valid: fc.constantFrom('completed', 'dialing', 'no-answer', 'in-progress'),
          bad: fc.oneof(fc.constantFrom('', 'COMPLETED', 'no_answer', 'done', 'completed ', 'a\u0000'), twoOrMore(fc.constant('completed')), urlString),
        },
        // Transcript search (issue 16).
        q: { valid: fc.constantFrom('hello', 'שלום', '"call back" tomorrow', 'or -x'), bad: fc.oneof(fc.constantFrom('', '   ', 'x'.repeat(201)), twoOrMore(fc.constant('hello'))) },
      }),
      valid: async () => ({ req: { method: 'GET', url: `/api/v1/calls?lead_id=${fx.leadId}&status=completed&limit=1` }, status: 200 }),
    },
    [endpointKey(E('GET', '/api/v1/calls/:call_sid'))]: byId(E('GET', '/api/v1/calls/:call_sid'), () => fx.callSid),
    [endpointKey(recordingE)]: {
      cases: () => idCases(recordingE),
      once: () => [
        { label: 'a busy call has no recording', method: 'GET', url: pathOf(recordingE, fx.busyCallSid), expect: { status: 404, code: 'not_found' } },
        { label: 'a ringing call has no recording yet', method: 'GET', url: pathOf(recordingE, fx.ringingCallSid), expect: { status: 404, code: 'not_found' } },
      ],
      // Not cached: a download job is queued (202), which the cleanup cancels.
      valid: async () => ({ req: { method: 'GET', url: pathOf(recordingE, fx.callSid) }, status: 202 }),
      cleanup: cancelJob,
    },

    // ---- Transcripts (issue 16).
    [endpointKey(transcriptE)]: byId(transcriptE, () => fx.callSid),
    [endpointKey(transcribeE)]: jobCreating(transcribeE, transcribeModel, () => ({ call_sids: [fx.callSid] }), () => [
      { label: 'a busy call has no recording', ...jsonReq('POST', pathOf(transcribeE), { call_sids: [fx.busyCallSid] }), expect: { status: 404, code: 'not_found' } },
      { label: 'both targets', ...jsonReq('POST', pathOf(transcribeE), { call_sids: [fx.callSid], run_id: fx.runId }), expect: { status: 400, at: 'body' } },
    ]),

    // ---- WhatsApp.
    [endpointKey(broadcastE)]: jobCreating(broadcastE, broadcastModel, () => ({ text: 'Opening at 9 tomorrow', recipients: [{ phone: freshPhone() }] }), () => [
      { label: '100 001 recipients', ...jsonReq('POST', pathOf(broadcastE), { text: 'x', recipients: tooManyIds().map((n) => ({ phone: `+1${n}` })) }), expect: { status: 400, at: 'body' } },
      { label: '100 001 in all', ...jsonReq('POST', pathOf(broadcastE), { text: 'x', recipients: [{ phone: '+12125550100' }], lead_ids: tooManyIds().slice(1) }), expect: { status: 400, at: 'body' } },
      { label: 'deeply nested', method: 'POST', url: pathOf(broadcastE), headers: JSON_CT, payload: `{"text": "x", "recipients": ${deeplyNested('{"phone": "+12125550100"}')}}`, expect: { status: 400, at: 'body' } },
      { label: 'lone surrogate', method: 'POST', url: pathOf(broadcastE), headers: JSON_CT, payload: '{"text": "caf\\ud800e", "recipients": [{"phone": "+12125550100"}]}', expect: { status: 400, at: 'body.text' } },
    ]),
    [endpointKey(runsList)]: {
      cases: () => queryCases(runsList, LIST_PARAMS),
      valid: async () => ({ req: { method: 'GET', url: '/api/v1/outbound/runs?limit=1' }, status: 200 }),
    },
    [endpointKey(broadcastsList)]: {
      cases: () => queryCases(broadcastsList, LIST_PARAMS),
      valid: async () => ({ req: { method: 'GET', url: '/api/v1/whatsapp/broadcasts?limit=1' }, status: 200 }),
    },
    [endpointKey(E('GET', '/api/v1/whatsapp/broadcasts/:id'))]: byId(E('GET', '/api/v1/whatsapp/broadcasts/:id'), () => fx.broadcastId),
    [endpointKey(recipientsE)]: {
      cases: () => fc.oneof(idCases(recipientsE), queryCases(recipientsE, {
        ...LIST_PARAMS,
        status: { valid: fc.constantFrom(...RECIPIENT_STATUSES), bad: fc.oneof(fc.constantFrom('', 'READ', 'opened', 'queued ', 'x\u0000'), twoOrMore(fc.constant('read')), urlString) },
      }, undefined, { url: pathOf(recipientsE, fx.broadcastId) })),
      valid: async () => ({ req: { method: 'GET', url: `${pathOf(recipientsE, fx.broadcastId)}?status=queued&limit=1` }, status: 200 }),
    },
    [endpointKey(optOutE)]: {
      cases: () => fc.oneof({ weight: 4, arbitrary: bodyCases(optOutE, optOutModel()) }, { weight: 1, arbitrary: transportCases(optOutE, pathOf(optOutE), { csvIsBad: true }) }),
      valid: async () => ({ req: jsonReq('POST', pathOf(optOutE), { phone: freshPhone() }), status: 201 }),
    },
    [endpointKey(optOutsList)]: {
      cases: () => queryCases(optOutsList, LIST_PARAMS),
      valid: async () => ({ req: { method: 'GET', url: '/api/v1/whatsapp/opt-outs?limit=1' }, status: 200 }),
    },

    // ---- Provider webhooks.
    [endpointKey(twilioStatus)]: twilioSpec(twilioStatus, {
      forged: { AccountSid: SIM_TWILIO_ACCOUNT_SID, CallSid: fx.ringingCallSid, CallStatus: 'completed', CallDuration: '7' },
      bad: {
        CallSid: badSid.filter((v) => v !== ''),
        CallDuration: fc.constantFrom('1e300', '-1', 'abc', '1.5', '99999999999', ' 5', '5\u0000', '0x10'),
      },
      valid: () => ({ callId: fx.callId, params: { AccountSid: SIM_TWILIO_ACCOUNT_SID, CallSid: fx.callSid, CallStatus: 'completed', CallDuration: '1' } }),
    }),
    [endpointKey(twilioRecording)]: twilioSpec(twilioRecording, {
      forged: { AccountSid: SIM_TWILIO_ACCOUNT_SID, CallSid: fx.ringingCallSid, RecordingSid: `RE${'1'.repeat(32)}`, RecordingStatus: 'completed', RecordingDuration: '7' },
      bad: {
        CallSid: badSid.filter((v) => v !== ''),
        RecordingSid: fc.constantFrom('RE1', `CA${'a'.repeat(32)}`, `RE${'a'.repeat(32)}\u0000`, `re${'a'.repeat(32)}`, 'x'.repeat(5000)),
        RecordingStatus: fc.constantFrom('Completed', 'x\u0000', 'a'.repeat(33), 'done!', 'in progress'),
        RecordingDuration: fc.constantFrom('1e300', 'abc', '1.5', '99999999999', '7s'),
      },
      valid: () => ({ callId: fx.callId, params: { AccountSid: SIM_TWILIO_ACCOUNT_SID, CallSid: fx.callSid, RecordingSid: `RE${'2'.repeat(32)}`, RecordingStatus: 'completed', RecordingDuration: '1' } }),
    }),
    // The call flow's webhooks (issue 15): on the completed fixture call, a harmless <Hangup/> or nothing.
    [endpointKey(voiceHook('answer'))]: twilioSpec(voiceHook('answer'), {
      forged: { AccountSid: SIM_TWILIO_ACCOUNT_SID, CallSid: fx.ringingCallSid, CallStatus: 'in-progress' },
      bad: callSidBad,
      valid: () => ({ callId: fx.callId, params: { AccountSid: SIM_TWILIO_ACCOUNT_SID, CallSid: fx.callSid, CallStatus: 'in-progress' } }),
      validStatus: 200,
    }),
    [endpointKey(voiceHook('gather'))]: twilioSpec(voiceHook('gather'), {
      forged: { AccountSid: SIM_TWILIO_ACCOUNT_SID, CallSid: fx.ringingCallSid, Digits: '9' },
      bad: { ...callSidBad, Digits: fc.constantFrom('9\u0000', 'x', '1'.repeat(33), '9 ', '١') },
      valid: () => ({ callId: fx.callId, params: { AccountSid: SIM_TWILIO_ACCOUNT_SID, CallSid: fx.callSid, Digits: '5' } }),
      validStatus: 200,
    }),
    [endpointKey(voiceHook('amd'))]: twilioSpec(voiceHook('amd'), {
      forged: { AccountSid: SIM_TWILIO_ACCOUNT_SID, CallSid: fx.ringingCallSid, AnsweredBy: 'machine_end_beep', MachineDetectionDuration: '3000' },
      bad: callSidBad,
      valid: () => ({ callId: fx.callId, params: { AccountSid: SIM_TWILIO_ACCOUNT_SID, CallSid: fx.callSid, AnsweredBy: 'human' } }),
    }),
    [endpointKey(voiceHook('dial-status'))]: twilioSpec(voiceHook('dial-status'), {
      forged: { AccountSid: SIM_TWILIO_ACCOUNT_SID, CallSid: fx.ringingCallSid, DialCallStatus: 'completed', DialCallDuration: '9' },
      bad: callSidBad,
      valid: () => ({ callId: fx.callId, params: { AccountSid: SIM_TWILIO_ACCOUNT_SID, CallSid: fx.callSid, DialCallStatus: 'no-answer' } }),
      validStatus: 200,
    }),
    [endpointKey(waVerify)]: {
      cases: () => queryCases(waVerify, {
        'hub.mode': { valid: fc.constant('subscribe'), bad: fc.oneof(fc.constantFrom('', 'unsubscribe', 'Subscribe', 'm'.repeat(65)), twoOrMore(fc.constant('subscribe')), urlString) },
        'hub.verify_token': { valid: fc.constant(env.config.whatsapp.verifyToken), bad: fc.oneof(fc.constantFrom('', 'wrong', `${env.config.whatsapp.verifyToken}x`, 'v'.repeat(513), 'a\u0000'), twoOrMore(fc.constant(env.config.whatsapp.verifyToken)), urlString) },
        'hub.challenge': { valid: fc.constantFrom('1158201444', 'x'), bad: fc.oneof(fc.constant('c'.repeat(513)), twoOrMore(fc.constant('1'))) },
      }, (q) => (q['hub.mode'] === 'subscribe' && q['hub.verify_token'] === env.config.whatsapp.verifyToken && q['hub.challenge'] !== undefined ? null : { status: 403, code: 'forbidden' }), { noNulGuard: true }),
      valid: async () => ({ req: { method: 'GET', url: `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(env.config.whatsapp.verifyToken)}&hub.challenge=42` }, status: 200 }),
    },
    [endpointKey(waEvents)]: {
      cases: () => whatsappCases(),
      once: () => [
        { label: 'body over 1 MiB', method: 'POST', url: '/webhooks/whatsapp', headers: { ...JSON_CT, 'x-hub-signature-256': signBody('x', SIM_WHATSAPP_APP_SECRET) }, payload: `"${'x'.repeat(1024 * 1024)}"`, expect: { status: 413, code: 'payload_too_large' } },
        { label: 'no body', method: 'POST', url: '/webhooks/whatsapp', expect: { status: 403, code: 'forbidden' } },
        ((body) => ({ label: 'signed, a lone surrogate in a status id', method: 'POST' as const, url: '/webhooks/whatsapp', headers: { ...JSON_CT, 'x-hub-signature-256': signBody(body, SIM_WHATSAPP_APP_SECRET) }, payload: body, expect: { status: 400, at: 'body.entry.0.changes.0.value.statuses.0.id' } }))(
          JSON.stringify(buildEnvelope(env.config.whatsapp.phoneNumberId, { statuses: [{ id: 'wamid.\ud800', status: 'delivered', timestamp: '1700000000' }] })),
        ),
      ],
      // A status for a message we do not know yet is parked until its send is recorded.
      valid: async () => {
        const body = JSON.stringify(buildEnvelope(env.config.whatsapp.phoneNumberId, { statuses: [{ id: `wamid.valid${phoneSeq += 1}`, status: 'delivered', timestamp: '1700000000' }] }));
        return { req: { method: 'POST', url: '/webhooks/whatsapp', headers: { ...JSON_CT, 'x-hub-signature-256': signBody(body, SIM_WHATSAPP_APP_SECRET) }, payload: body }, status: 200 };
      },
    },

    // ---- Channels (issue 14). Last in ENDPOINTS: the valid PUTs give the tenant its own caller ids,
    // subaccount and sender, which no other route's cases expect. Secrets are shown "…last4"; that
    // hint sent back keeps a stored secret, and while the tenant has none it is a 400 at its field.
    ...((getVoice: Endpoint, putVoice: Endpoint, getWhatsApp: Endpoint, putWhatsApp: Endpoint): Record<string, Spec> => {
      const sid = `AC${'0123456789abcdef'.repeat(2)}`;
      const hint = (v: unknown): boolean => typeof v === 'string' && v.startsWith('…');
      const voiceModel = (): BodyModel => ({
        valid: fc.record({
          caller_ids: fc.array(validPhone, { maxLength: 3 }),
          twilio: fc.oneof(fc.constant(null), fc.record({ account_sid: fc.constant(sid), auth_token: fc.constantFrom('a'.repeat(32), 'token-with.punctuation!') })),
        }, { requiredKeys: ['caller_ids'] }),
        bad: {
          caller_ids: fc.oneof(
            fc.constantFrom('+12125550100', null, 5, {}, [5], [null], ['x'.repeat(41)], ['+1212555\u00000100'], Array.from({ length: 51 }, (_, i) => `+1646555${String(i).padStart(4, '0')}`)),
            fc.array(invalidPhone, { minLength: 1, maxLength: 2 }),
          ),
          twilio: fc.constantFrom(
            { account_sid: 'AC123', auth_token: 'a'.repeat(32) }, { account_sid: `ac${'0'.repeat(32)}`, auth_token: 'a'.repeat(32) }, { account_sid: sid },
            { account_sid: sid, auth_token: 'short' }, { account_sid: sid, auth_token: 'a space inside it' }, { account_sid: sid, auth_token: 'x'.repeat(257) },
            { account_sid: sid, auth_token: 'a\u0000'.repeat(8) }, { account_sid: sid, auth_token: '…abcd' }, { account_sid: sid, auth_token: 'a'.repeat(32), region: 'ie1' }, 'x', 5, [],
          ),
        },
        required: ['caller_ids'],
        semantic: (b) => {
          const ids = b.caller_ids as unknown[];
          if (ids.some((p) => typeof p !== 'string' || normalizePhone(p, 'US') === null)) return { status: 400, at: 'body.caller_ids' };
          return hint((b.twilio as { auth_token?: unknown } | null | undefined)?.auth_token) ? { status: 400, at: 'body.twilio.auth_token' } : null;
        },
      });
      const whatsAppModel = (): BodyModel => ({
        valid: fc.record({
          phone_number_id: fc.constantFrom('300000000000001', '300000000000002'),
          access_token: fc.constantFrom('EAAG'.repeat(10), 't'.repeat(16)),
          app_secret: fc.oneof(fc.constant(null), fc.constant('s'.repeat(32))),
        }, { requiredKeys: ['phone_number_id', 'access_token'] }),
        bad: {
          phone_number_id: fc.constantFrom('', 'abc', '1'.repeat(33), '+972501234567', '12 34', 5, null, env.config.whatsapp.phoneNumberId, '1\u0000'),
          access_token: fc.constantFrom('short', 'x'.repeat(4097), 'a space inside the token', 5, null, '…abcd', 'é'.repeat(20)),
          app_secret: fc.constantFrom('short', 'a space inside', 5, [], '…abcd', 'x'.repeat(257)),
        },
        required: ['phone_number_id', 'access_token'],
        semantic: (b) => {
          if (b.phone_number_id === env.config.whatsapp.phoneNumberId) return { status: 409, code: 'phone_number_id_taken' };
          if (hint(b.access_token)) return { status: 400, at: 'body.access_token' };
          return hint(b.app_secret) ? { status: 400, at: 'body.app_secret' } : null;
        },
      });
      const put = (e: Endpoint, model: () => BodyModel, valid: () => Body): Spec => ({
        cases: () => fc.oneof({ weight: 4, arbitrary: bodyCases(e, model()) }, { weight: 1, arbitrary: transportCases(e, pathOf(e), { csvIsBad: true }) }),
        once: () => [{ label: 'deeply nested', method: 'PUT', url: pathOf(e), headers: JSON_CT, payload: `{"caller_ids": ${deeplyNested('"x"')}}`, expect: { status: 400, at: 'body' } }],
        valid: async () => ({ req: jsonReq('PUT', pathOf(e), valid()), status: 200 }),
      });
      return {
        [endpointKey(getVoice)]: ops(pathOf(getVoice), ['PUT']),
        [endpointKey(putVoice)]: put(putVoice, voiceModel, () => ({ caller_ids: [freshPhone(), freshPhone()], twilio: { account_sid: sid, auth_token: 'b'.repeat(32) } })),
        [endpointKey(getWhatsApp)]: ops(pathOf(getWhatsApp), ['PUT']),
        [endpointKey(putWhatsApp)]: put(putWhatsApp, whatsAppModel, () => ({ phone_number_id: '300000000000009', access_token: 'EAAG'.repeat(10), app_secret: 's'.repeat(32) })),
      };
    })(E('GET', '/api/v1/channels/voice'), E('PUT', '/api/v1/channels/voice'), E('GET', '/api/v1/channels/whatsapp'), E('PUT', '/api/v1/channels/whatsapp')),

    // ---- The caller's own business (issue 14): no id in the path, so nothing of another business
    // can be named; the valid PATCH keeps the tenant's country (US) and language (en).
    ...((getOwn: Endpoint, patchOwn: Endpoint): Record<string, Spec> => {
      const model = (): BodyModel => ({
        valid: fc.record({ default_country: fc.constantFrom('US', 'GB', 'IL'), timezone: fc.constantFrom('UTC', 'Asia/Jerusalem', 'America/New_York'), locale: fc.constantFrom('en', 'he') }, { requiredKeys: [] }),
        bad: {
          default_country: fc.constantFrom('us', 'USA', '1', '', 'ÜS', 'XX', 'AQ', 'EU', 5, null, ['IL']),
          timezone: fc.constantFrom('Mars/Olympus', '', 'x'.repeat(65), 'utc+99', 'UTC\u0000', 5, null),
          locale: fc.constantFrom('fr', 'HE', 'he-IL', '', 5, null),
        },
        required: [],
      });
      return {
        [endpointKey(getOwn)]: ops(pathOf(getOwn), ['PATCH']),
        [endpointKey(patchOwn)]: {
          cases: () => fc.oneof(
            { weight: 4, arbitrary: bodyCases(patchOwn, model()) },
            { weight: 1, arbitrary: transportCases(patchOwn, pathOf(patchOwn), { csvIsBad: true }) },
          ),
          once: () => [
            { label: 'nothing to change', method: 'PATCH', url: pathOf(patchOwn), headers: JSON_CT, payload: '{}', expect: { status: 400, at: 'body' } },
            { label: 'the call limit is the platform\'s', method: 'PATCH', url: pathOf(patchOwn), headers: JSON_CT, payload: '{"max_outbound_calls": 50}', expect: { status: 400, at: 'body' } },
          ],
          valid: async () => ({ req: jsonReq('PATCH', pathOf(patchOwn), { timezone: 'Asia/Jerusalem', default_country: 'US', locale: 'en' }), status: 200 }),
        },
      };
    })(E('GET', '/api/v1/business'), E('PATCH', '/api/v1/business')),
  };
}

// ---------------------------------------------------------------------------------------------

describe('bad input on every endpoint', () => {
  test('the endpoint table and the specs cover every registered route', () => {
    const all = [...routes.keys()];
    assert.ok(all.includes('GET /healthz') && all.includes('POST /api/v1/leads/import'), `route collection broke: ${all.join(', ')}`);
    const registered = all.sort();
    assert.deepEqual(registered, ENDPOINTS.map(endpointKey).sort(), 'a route without an entry in test/helpers/endpoints.ts, or an entry without a route');
    assert.deepEqual(Object.keys(specs()).sort(), registered, 'a route without bad-input cases in this file');
  });

  for (const e of ENDPOINTS) {
    test(`${endpointKey(e)}: refused with the envelope, nothing changes; a valid request passes`, async (ctx: TestContext) => {
      const spec = specs()[endpointKey(e)];
      assert.ok(spec, `no spec for ${endpointKey(e)}`);
      await loadTenantLeads();
      await quiesce();
      const before = await snapshot();
      const start = sent;
      await fc.assert(fc.asyncProperty(spec.cases(), (c) => expectRefused(e, c)), { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) });
      for (const c of [...commonOnce(e, sampleUrl(e)), ...(spec.once?.() ?? [])]) await expectRefused(e, c);
      assert.deepEqual(await snapshot(), before, 'a refused request changed the database');

      const { req, status } = await spec.valid();
      const res = await send(e, req);
      assert.equal(res.statusCode, status, `the valid request failed: ${describeCase(req, res.statusCode, res.body)}`);
      const answer = res.headers['content-type']?.toString().startsWith('application/json') ? (res.json() as Answer) : {};
      await spec.cleanup?.(answer);
      ctx.diagnostic(`${sent - start} requests`);
    });
  }

  test('every non-ops endpoint refuses a missing or wrong bearer with 401 and changes nothing', async () => {
    const before = await snapshot();
    const tokens = fc.oneof(
      fc.constant<string | undefined>(undefined),
      fc.constantFrom('', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', `Bearer ${'x'.repeat(300)}`, 'Bearer bh_nope', `Token ${ADMIN_TOKEN}`),
      printable.map((s) => `Bearer ${s}`),
    );
    for (const e of ENDPOINTS.filter((x) => x.auth !== 'none')) {
      const crossed = e.auth === 'admin' ? t.token : ADMIN_TOKEN;
      const url = sampleUrl(e);
      await fc.assert(
        fc.asyncProperty(fc.oneof(tokens, fc.constant(`Bearer ${crossed}`)), async (authorization) => {
          const c: Case = { label: 'bad bearer', method: e.method, url, expect: { status: 401, code: 'unauthorized' }, ...(e.method === 'GET' ? {} : { headers: JSON_CT, payload: '{}' }) };
          await expectRefused(e, c, authorization === undefined ? {} : { authorization });
        }),
        { numRuns: 8, ...(SEED === undefined ? {} : { seed: SEED }) },
      );
    }
    assert.deepEqual(await snapshot(), before);
  });

  test('malformed HTTP that never reaches a route still gets the envelope', async () => {
    const url = new URL(env.baseUrl);
    const raw = async (request: string) => new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname, () => socket.end(request));
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
    });
    const check = (answer: string, status: number) => {
      const [head, body = ''] = answer.split('\r\n\r\n');
      assert.match(head ?? '', new RegExp(`^HTTP/1\\.1 ${status} `), answer);
      assertRefusal(status, body, /content-type: ([^\r]+)/i.exec(head ?? '')?.[1], { status, ...(status === 400 ? { at: 'request' } : {}) }, answer);
    };
    check(await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0000b\r\n\r\n'), 400);
    check(await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'), 400);
    check(await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), 431);
  });
});
