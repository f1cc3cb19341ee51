import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { readImportBody } from '../../src/leads/import-body.js';
import { normalizePhone } from '../../src/leads/phone.js';
import { collectRoutes, endpoint, endpointKey, ENDPOINTS, NOT_YET_COVERED, pathOf, type Endpoint, type Method, type RegisteredRoute } from '../helpers/endpoints.js';
import { ADMIN_TOKEN, createTenant, startTestEnv, type Tenant, type TestEnv } from '../helpers/harness.js';
import { liftRateLimits, seedLeads } from '../leads/helpers.js';

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
const fx = { leadId: 0, importId: 0, cancelledJobId: 0, queuedJobId: 0, otherImportId: 0, otherLeadId: 0, otherJobId: 0 };
let sent = 0;

before(async () => {
  env = await startTestEnv({ worker: false, listen: true });
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

async function ok(who: Tenant, method: Method, url: string, body: unknown, status: number): Promise<{ id: number; job_id: number; import_id: number }> {
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
const TRACKED = ['leads', 'lead_notes', 'lead_activities', 'lead_reminders', 'imports', 'import_chunks', 'receipts', 'jobs', 'idempotency_keys', 'businesses', 'users', 'api_tokens'];

async function snapshot(): Promise<Record<string, string>> {
  const { rows: tables } = await env.pool.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`,
  );
  const out: Record<string, string> = {};
  for (const { name } of tables) {
    const { rows } = await env.pool.query<{ n: number; h: string }>(
      `SELECT count(*)::int AS n, md5(coalesce(string_agg(md5(t::text), ',' ORDER BY md5(t::text)), '')) AS h FROM "${name}" t`,
    );
    out[name] = `${rows[0]?.n} rows ${rows[0]?.h}`;
  }
  for (const table of TRACKED) assert.ok(out[table], `table ${table} is not in the schema any more`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Oracles and generators.

function zodOf(e: Endpoint, part: 'body' | 'querystring' | 'params' | 'headers'): z.ZodType {
  const schema = routes.get(endpointKey(e))?.schema?.[part];
  assert.ok(schema instanceof z.ZodType, `${endpointKey(e)} has no zod ${part} schema`);
  return schema;
}

function hasNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\u0000');
  if (Array.isArray(v)) return v.some(hasNul);
  if (v !== null && typeof v === 'object') return Object.values(v).some(hasNul);
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
  if (hasNul(body) || !zodOf(e, 'body').safeParse(body).success) return { status: 400, at: 'body' };
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

/** Path ids the route's params schema refuses: zero, negative, fractions, beyond 2^53 and bigint, words, odd unicode. */
function badIdSegments(e: Endpoint): fc.Arbitrary<{ seg: string; at: string }> {
  const schema = zodOf(e, 'params');
  return fc
    .oneof(
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
    .filter((seg) => seg.length > 0 && seg !== '.' && seg !== '..' && !schema.safeParse({ id: seg }).success)
    // Fastify refuses a parameter longer than maxParamLength (200) before validation: a bad URL.
    .map((seg) => ({ seg: encodeURIComponent(seg), at: seg.length > 200 ? 'url' : 'params' }));
}

/** Bad or missing ids on an id route; `body` (valid) goes with them so only the id is wrong. */
function idCases(e: Endpoint, body?: fc.Arbitrary<Body>): fc.Arbitrary<Case> {
  const withBody = (url: string, label: string, expect: Expect): fc.Arbitrary<Case> =>
    (body ?? fc.constant(undefined)).map((b) => ({ label, method: e.method, url, expect, ...(b === undefined ? {} : { payload: JSON.stringify(b), headers: JSON_CT }) }));
  return fc.oneof(
    { weight: 3, arbitrary: badIdSegments(e).chain(({ seg, at }) => withBody(pathOf(e, seg), 'bad id', { status: 400, at })) },
    { weight: 1, arbitrary: fc.integer({ min: 10 ** 12, max: MAX_SAFE }).chain((id) => withBody(pathOf(e, id), 'missing id', { status: 404, code: 'not_found' })) },
  );
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

function queryCases(e: Endpoint, params: Record<string, QueryParam>, extra: (q: Query) => Expect | null = () => null): fc.Arbitrary<Case> {
  const schema = zodOf(e, 'querystring');
  const names = Object.keys(params);
  const verdict = (q: Query): Expect | null => {
    if (hasNul(q) || !schema.safeParse(q).success) return { status: 400, at: 'querystring' };
    if (typeof q.cursor === 'string' && !cursorIsValid(q.cursor)) return { status: 400, at: 'querystring.cursor' };
    return extra(q);
  };
  return fc
    .constantFrom(...names)
    .chain((badName) => fc.record({
      bad: (params[badName] as QueryParam).bad,
      rest: fc.record(Object.fromEntries(names.filter((n) => n !== badName).map((n) => [n, (params[n] as QueryParam).valid])), { requiredKeys: [] }),
      noise: fc.option(fc.tuple(fc.stringMatching(/^[a-z_]{1,8}$/).filter((k) => !names.includes(k)), urlString), { nil: undefined }),
    }).map(({ bad, rest, noise }): Query => ({ ...(rest as Query), [badName]: bad, ...(noise ? { [noise[0]]: noise[1] } : {}) })))
    .map((q) => ({ q, expect: verdict(q) }))
    .filter((c): c is { q: Query; expect: Expect } => c.expect !== null)
    .map(({ q, expect }) => ({ label: 'bad query', method: e.method, url: `${pathOf(e)}?${queryString(q)}`, expect }));
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
    .filter(([, name, value]) => hasNul(value) || !schema.safeParse({ [name]: value }).success)
    .map(([req, name, value]) => ({ ...req, label: `bad ${name}`, headers: { ...req.headers, [name]: value }, expect: { status: 400, at: 'headers' } }));
}

const UNSUPPORTED_TYPES = [
  'application/xml', 'text/html', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream',
  'image/png', 'application/json-patch+json', 'foo/bar',
];

/** Transport-level garbage for a route that parses a body: malformed JSON, an empty JSON body, unsupported content types. */
function transportCases(e: Endpoint, url: string, opts: { csvIsBad: boolean }): fc.Arbitrary<Case> {
  const malformed = fc
    .tuple(fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.nat(), fc.constantFrom('', ',', '}', '{', ']', '"', "'", 'undefined', 'NaN', '\u0000', '//', '\\'))
    .map(([text, cut, junk]) => text.slice(0, cut % (text.length + 1)) + junk)
    .filter((s) => s.trim() !== '' && !parsesAsJson(s));
  return fc.oneof(
    { weight: 3, arbitrary: malformed.map((payload): Case => ({ label: 'malformed JSON', method: e.method, url, headers: JSON_CT, payload, expect: { status: 400, at: 'body' } })) },
    { weight: 1, arbitrary: fc.constant<Case>({ label: 'empty JSON', method: e.method, url, headers: JSON_CT, payload: '', expect: { status: 400, at: 'body' } }) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom(...UNSUPPORTED_TYPES), fc.string({ maxLength: 50 })).map(([type, payload]): Case => ({
        label: 'unsupported content type', method: e.method, url, headers: { 'content-type': type }, payload, expect: { status: 415, code: 'unsupported_media_type' },
      })),
    },
    ...(opts.csvIsBad
      ? [{ weight: 1, arbitrary: fc.string({ maxLength: 50 }).map((payload): Case => ({ label: 'CSV where JSON is expected', method: e.method, url, headers: { 'content-type': 'text/csv' }, payload, expect: { status: 400, at: 'body' } })) }]
      : []),
  );
}

/** Requests sent once per endpoint: a wrong method, an undecodable URL, a body over the limit. */
function commonOnce(e: Endpoint, url: string): Case[] {
  const cases: Case[] = [
    { label: 'wrong method', method: 'PUT', url, expect: { status: 404, code: 'not_found' } },
    { label: 'bad percent-encoding', method: e.method, url: `${url}%E0%A4%A`, expect: { status: 400, at: 'url' } },
  ];
  if (e.auth !== 'none') {
    // Even a parameter no route reads: U+0000 is refused before anything can try to store it.
    cases.push({ label: 'NUL in the query', method: e.method, url: `${url}?note=a%00b`, expect: { status: 400, at: 'querystring.note' } });
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

/** A JSON value nested deeper than any recursive walk survives, as text. */
const deeplyNested = (inner: string, depth = 200_000): string => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;

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
type Answer = { job_id?: number; id?: number; status?: string };
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

/** The import body is judged by the app's reader (the route schema only tells JSON from CSV). */
function importVerdict(body: unknown, contentType: string): Expect | null {
  if (hasNul(body)) return { status: 400, at: 'body' };
  if (typeof body !== 'string' && (body === null || typeof body !== 'object' || Array.isArray(body))) return { status: 400, at: 'body' };
  try {
    readImportBody(body, contentType, undefined);
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

function specs(): Record<string, Spec> {
  const E = endpoint;
  const ops = (url: string): Spec => ({
    // Ops routes take no input; what a client can get wrong is the method and the URL.
    // (fast-check likes "__proto__" keys; such a body is refused as invalid JSON before routing to 404, a case of its own.)
    cases: () => fc.tuple(fc.constantFrom<Method | 'PUT'>('POST', 'PUT', 'PATCH', 'DELETE'), fc.option(fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)), { nil: undefined }))
      .filter(([, payload]) => !/"(__proto__|constructor)"/.test(payload ?? ''))
      .map(([method, payload]): Case => ({ label: 'wrong method', method, url, expect: { status: 404, code: 'not_found' }, ...(payload === undefined ? {} : { headers: JSON_CT, payload }) })),
    valid: async () => ({ req: { method: 'GET', url }, status: 200 }),
  });
  const byId = (e: Endpoint, validId: () => number, status = 200): Spec => ({
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
    label: '100 001 lead ids', method: 'POST', url, headers: JSON_CT, payload: JSON.stringify(body(tooManyIds())), expect: { status: 400, at: 'body.lead_ids' },
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
  const addUserModel = (): BodyModel => ({ valid: fc.record({ email }), bad: { email: badEmail }, required: ['email'] });

  return {
    [endpointKey(E('GET', '/healthz'))]: ops('/healthz'),
    [endpointKey(E('GET', '/readyz'))]: ops('/readyz'),
    [endpointKey(E('GET', '/metrics'))]: ops('/metrics'),

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
        { label: '100 001 JSON rows', ...jsonReq('POST', pathOf(importE), { leads: tooManyIds().map((n) => ({ phone: String(n) })) }), expect: { status: 400, at: 'body.leads' } },
        { label: '100 001 CSV rows', method: 'POST', url: pathOf(importE), headers: { 'content-type': 'text/csv' }, payload: `phone\n${tooManyIds().join('\n')}`, expect: { status: 400, at: 'body' } },
        { label: 'NUL in a row', ...jsonReq('POST', pathOf(importE), { leads: [{ phone: '+16465550003', name: 'a\u0000' }] }), expect: { status: 400, at: 'body.leads.0.name' } },
        { label: 'CSV as a JSON string', ...jsonReq('POST', pathOf(importE), 'phone\n+16465550003'), expect: { status: 400, at: 'body' } },
      ],
      // Valid: a bad cell is a per-row error of the job, even one nested 200 000 levels deep (once a 500).
      valid: async () => ({
        req: { method: 'POST', url: pathOf(importE), headers: JSON_CT, payload: `{"leads": [{"phone": "${freshPhone()}", "name": ${deeplyNested('"x"')}}]}` },
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
  };
}

// ---------------------------------------------------------------------------------------------

describe('bad input on every endpoint', () => {
  test('the endpoint table and the specs cover every registered route', () => {
    const all = [...routes.keys()];
    assert.ok(all.includes('GET /healthz') && all.includes('POST /api/v1/leads/import'), `route collection broke: ${all.join(', ')}`);
    for (const key of NOT_YET_COVERED) assert.ok(all.includes(key), `${key} is listed as not yet covered but is not a route any more`);
    const registered = all.filter((key) => !NOT_YET_COVERED.includes(key)).sort();
    assert.deepEqual(registered, ENDPOINTS.map(endpointKey).sort(), 'a route without an entry in test/helpers/endpoints.ts, or an entry without a route');
    assert.deepEqual(Object.keys(specs()).sort(), registered, 'a route without bad-input cases in this file');
  });

  for (const e of ENDPOINTS) {
    test(`${endpointKey(e)}: refused with the envelope, nothing changes; a valid request passes`, async (ctx: TestContext) => {
      const spec = specs()[endpointKey(e)];
      assert.ok(spec, `no spec for ${endpointKey(e)}`);
      const before = await snapshot();
      const start = sent;
      await fc.assert(fc.asyncProperty(spec.cases(), (c) => expectRefused(e, c)), { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) });
      const url = pathOf(e, e.url.includes('/admin/') ? other.businessId : fx.leadId);
      for (const c of [...commonOnce(e, url), ...(spec.once?.() ?? [])]) await expectRefused(e, c);
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
      const url = pathOf(e, e.url.includes('/admin/') ? other.businessId : fx.leadId);
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
