import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { negotiateLocale } from '../../src/http/locale.js';
import {
  english,
  issueMessage,
  isResource,
  LOCALES,
  MESSAGE_KEYS,
  msg,
  render,
  RESOURCE_NAMES,
  takesParams,
  type Message,
  type MessageKey,
  type ParamsOf,
} from '../../src/lib/messages.js';
import { ADMIN_TOKEN, createTenant, startTestEnv, waitForJob, type Tenant, type TestEnv } from '../helpers/harness.js';

/**
 * Issue 14: every error message, validation issue and import row reason in Hebrew and English,
 * chosen by Accept-Language, else the business's locale; codes never change. The catalogue is
 * checked whole (both languages, every key), the source is checked for text thrown outside it,
 * and the API is asked in both languages.
 */

const HEBREW = /[\u05d0-\u05ea]/;
const issue = { path: 'body.phone', message: msg('issue.phone_invalid') };
/** A key's message without parameters (for keys that take none). */
const plain = (key: MessageKey) => ({ key, params: undefined }) as Message;

/** Parameters for every key that takes some: the test does not compile when a new one has none. */
type Samples = { [K in MessageKey as ParamsOf<K> extends void ? never : K]: ParamsOf<K>[] };
const zodIssue = (schema: z.ZodType, value: unknown) => {
  const r = schema.safeParse(value);
  assert.ok(!r.success);
  const first = r.error.issues[0];
  assert.ok(first);
  return { text: first.message, issue: { ...first } as Record<string, unknown> };
};
const SAMPLES: Samples = {
  'request.invalid': [{ issues: [issue, { path: 'body.name', message: msg('issue.required') }] }],
  'request.refused': [{ text: 'Bad Request' }],
  'request.url_invalid': [{ reason: msg('issue.bad_percent_encoding') }],
  'request.route_not_found': [{ method: 'GET', path: '/nope' }],
  'request.budget_exceeded': [{ who: 'token', retry: 3 }, { who: 'address', retry: 1 }],
  'request.unstorable_text': [{ path: 'body.name', char: 'nul' }, { path: 'body.k', char: 'surrogate', inKey: true }],
  'request.json_refused': [{ problem: msg('issue.json_too_deep', { max: 32 }) }],
  'request.internal_error': [{ errorId: '3f9a1c0b2e7d' }],
  'auth.ops_token_required': [{ what: 'metrics', basic: false }, { what: 'API docs', basic: true }],
  'auth.csrf': [{ cookie: 'bh_csrf' }],
  'auth.role_required': [{ role: 'owner' }, { role: 'admin' }, { role: 'agent' }],
  'auth.token_role_above_yours': [{ yours: 'agent' }],
  'auth.revoke_needs_role': [{ role: 'owner' }],
  'auth.grant_needs_role': [{ role: 'admin' }],
  'auth.too_many_attempts': [{ retry: 60 }],
  not_found: RESOURCE_NAMES.map((what) => ({ what })),
  'leads.not_found': [{ ids: [4] }, { ids: [4, 5] }],
  'gate.operation_in_progress': [{ jobId: 7 }],
  'gate.duplicate_request': [{ jobId: 7 }],
  'gate.rate_limited': [{ perMinute: 2 }],
  'jobs.invalid_transition': (['pause', 'resume', 'cancel'] as const).flatMap((action) =>
    (['queued', 'running', 'paused', 'completed', 'failed', 'cancelled'] as const).map((status) => ({ action, jobId: 9, status, requested: null }))),
  'ops.database_unreachable': [{ errorId: 'abc' }],
  'recordings.range_not_satisfiable': [{ size: 1024 }],
  'leads.phone_invalid': [{ raw: '123' }],
  'leads.lead_exists': [{ phone: '+972501234567' }, { phone: '+972501234567', leadId: 3 }],
  'leads.owner_not_user': [{ userId: 12 }],
  'import.too_many_rows': [{ max: 100000, count: 100001 }],
  'import.csv_unreadable': [{ reason: 'Invalid Closing Quote' }],
  'import.invalid': [{ issues: [issue] }],
  'import.row': (['phone', 'name', 'email', 'tags'] as const).map((field) => ({ field, reason: msg('issue.required') })),
  'outbound.concurrency_limit': [{ free: 0, limit: 2, wanted: 1 }],
  'outbound.lead_in_call': [{ ids: [1] }, { ids: [1, 2] }],
  'outbound.do_not_call': [{ ids: [1] }, { ids: [1, 2] }],
  'broadcasts.recipients_invalid': [{ count: 1, complete: true, first: issue }, { count: 20, complete: false, first: issue }],
  'channels.caller_ids_invalid': [{ count: 1, first: issue }, { count: 3, first: issue }],
  'channels.caller_id_taken': [{ ids: ['+972501234567'] }, { ids: ['+972501234567', '+972501234568'] }],
  'channels.secret_not_shown': [{ what: 'auth token' }, { what: 'access token' }, { what: 'app secret' }],
  'channels.shared_sender': [{ id: '1234567890' }],
  'channels.sender_taken': [{ id: '1234567890' }],
  'channels.sender_claimed': [{ id: '1234567890' }],
  'trash.delete_job_not_found': [{ jobId: 3 }],
  'trash.delete_in_progress': [{ jobId: 3, status: 'running' }],
  'issue.password_min': [{ min: 10 }],
  'issue.secret_not_shown': [{ what: 'access token' }],
  'issue.secret_shape': [{ what: 'auth token', min: 8, max: 256 }],
  'issue.caller_ids_at_most': [{ max: 50 }],
  'webhooks.twilio_invalid': [{ issues: [issue] }],
  'webhooks.unstorable_text': [{ path: 'body.entry', char: 'nul' }],
  'webhooks.envelope_invalid': [{ issues: [issue] }],
  'issue.unstorable_reason': [{ char: 'nul' }, { char: 'surrogate', inKey: true }],
  'issue.unstorable_text': [{ char: 'nul' }, { char: 'surrogate', inKey: true }],
  'issue.unstorable_cell': [{ char: 'nul' }],
  'issue.json_too_deep': [{ max: 32 }],
  'issue.json_too_many_keys': [{ max: 1000 }],
  'issue.json_too_many_items': [{ max: 100000 }],
  'issue.list_min': [{ min: 1 }, { min: 2 }],
  'issue.list_max': [{ max: 100000 }],
  'issue.list_many_bad': [{ max: 20 }],
  'issue.phone_not_valid': [{ raw: '123' }],
  'issue.rows_at_most': [{ max: 100000 }],
  'issue.csv_unreadable': [{ reason: 'Invalid Closing Quote' }],
  'issue.unknown_key': [{ key: 'x' }],
  'issue.recipients_at_most': [{ max: 100000 }],
  'issue.twilio_key': [{ name: '7AccountSid' }],
  'zod.invalid_type': [zodIssue(z.object({ a: z.string() }), {}), zodIssue(z.string(), 5), zodIssue(z.number().int(), 1.5)],
  'zod.too_small': [zodIssue(z.string().min(1), ''), zodIssue(z.string().min(3), 'a'), zodIssue(z.array(z.number()).min(1), []), zodIssue(z.number().min(1), 0)],
  'zod.too_big': [zodIssue(z.string().max(2), 'abc'), zodIssue(z.array(z.number()).max(1), [1, 2]), zodIssue(z.number().max(5), 6)],
  'zod.invalid_format': [zodIssue(z.email(), 'x'), zodIssue(z.iso.datetime({ offset: true }), 'x'), zodIssue(z.string().regex(/^a$/), 'b')],
  'zod.invalid_value': [zodIssue(z.enum(['a', 'b']), 'c'), zodIssue(z.literal(true), false)],
  'zod.unrecognized_keys': [zodIssue(z.strictObject({}), { x: 1 }), zodIssue(z.strictObject({}), { x: 1, y: 2 })],
  'zod.not_multiple_of': [zodIssue(z.number().multipleOf(5), 3)],
  'zod.invalid_union': [zodIssue(z.union([z.string(), z.number()]), true)],
  'zod.invalid_key': [{ text: 'Invalid key in record', issue: { code: 'invalid_key', origin: 'record' } }],
  'zod.invalid_element': [{ text: 'Invalid value in map', issue: { code: 'invalid_element', origin: 'map' } }],
  'zod.custom': [zodIssue(z.string().refine(() => false), 'x')],
};

function renderings(key: MessageKey): Message[] {
  if (!takesParams(key)) return [plain(key)];
  const samples = (SAMPLES as Record<string, unknown[] | undefined>)[key];
  assert.ok(samples && samples.length > 0, `${key} takes parameters: add samples to SAMPLES`);
  return samples.map((params) => ({ key, params }) as Message);
}

describe('the message catalogue', () => {
  test('every key says something in English and in Hebrew, and the two differ', () => {
    for (const key of MESSAGE_KEYS) {
      for (const m of renderings(key)) {
        const en = render(m, 'en');
        const he = render(m, 'he');
        assert.ok(en.trim().length > 0, `${key}: empty English`);
        assert.ok(he.trim().length > 0, `${key}: empty Hebrew`);
        assert.match(he, HEBREW, `${key}: the Hebrew has no Hebrew letters: ${he}`);
        assert.doesNotMatch(en, HEBREW, `${key}: the English has Hebrew letters: ${en}`);
        assert.notEqual(he, en, key);
        assert.doesNotMatch(`${en} ${he}`, /\[object Object\]/, `${key}: ${en} / ${he}`);
        assert.doesNotMatch(he, /undefined/, `${key}: ${he}`);
      }
    }
  });

  test('English texts without parameters are unique (an issue is recognized by its English)', () => {
    const seen = new Map<string, MessageKey>();
    for (const key of MESSAGE_KEYS.filter((k) => !takesParams(k))) {
      const en = english(plain(key));
      assert.equal(seen.get(en), undefined, `${key} and ${seen.get(en)} share "${en}"`);
      seen.set(en, key);
    }
  });

  test('a few texts exactly as a reader sees them', () => {
    assert.equal(render(msg('not_found', { what: 'Lead' }), 'en'), 'Lead was not found.');
    assert.equal(render(msg('not_found', { what: 'Lead' }), 'he'), 'הליד לא נמצא.');
    assert.equal(render(msg('not_found', { what: 'Job' }), 'he'), 'המשימה לא נמצאה.');
    assert.equal(render(msg('import.row', { field: 'phone', reason: msg('issue.required') }), 'en'), 'phone: is required');
    assert.equal(render(msg('import.row', { field: 'phone', reason: msg('issue.required') }), 'he'), 'טלפון: חובה');
    assert.equal(render(msg('jobs.invalid_transition', { action: 'resume', jobId: 4, status: 'completed', requested: null }), 'en'),
      'Cannot resume job 4: it is completed; only a paused job, or a running one with a pause requested, can be resumed.');
    assert.equal(render('text outside the catalogue', 'he'), 'text outside the catalogue');
    assert.equal(render({ key: 'a.key.of.another.version' }, 'he'), 'a.key.of.another.version');
  });

  test('zod issues: English is zod\'s own text, Hebrew is said from the issue', () => {
    const r = z.strictObject({ phone: z.string(), n: z.number().int().min(1), e: z.email(), extra: z.never().optional() })
      .safeParse({ n: 0, e: 'x', other: 1 });
    assert.ok(!r.success);
    for (const i of r.error.issues) {
      const m = issueMessage(i);
      assert.equal(english(m), i.message, 'English unchanged');
      assert.match(render(m, 'he'), HEBREW, `${i.code}: ${render(m, 'he')}`);
    }
    const missing = z.object({ phone: z.string() }).safeParse({});
    assert.ok(!missing.success && missing.error.issues[0]);
    assert.equal(render(issueMessage(missing.error.issues[0]), 'he'), 'חובה: צריך להיות טקסט');
    // A schema's own message is found again by its English, or by the message it carries.
    const regex = z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166 alpha-2 country code such as IL').safeParse('il');
    assert.ok(!regex.success && regex.error.issues[0]);
    assert.equal(issueMessage(regex.error.issues[0]).key, 'issue.country_code');
  });

  test('Accept-Language: q-values, he-IL and iw are Hebrew, anything else falls through', () => {
    assert.equal(negotiateLocale('he'), 'he');
    assert.equal(negotiateLocale('he-IL,he;q=0.9,en-US;q=0.8,en;q=0.7'), 'he');
    assert.equal(negotiateLocale('iw'), 'he');
    assert.equal(negotiateLocale('en-GB'), 'en');
    assert.equal(negotiateLocale('en;q=0.5, he;q=0.8'), 'he');
    assert.equal(negotiateLocale('fr-FR, en;q=0.3'), 'en');
    assert.equal(negotiateLocale('he;q=0, en'), 'en');
    assert.equal(negotiateLocale('fr, de'), null);
    assert.equal(negotiateLocale('*'), null);
    assert.equal(negotiateLocale(''), null);
    assert.equal(negotiateLocale(undefined), null);
    assert.deepEqual([...LOCALES].sort(), ['en', 'he']);
  });
});

// ── The source: no client-readable text thrown outside the catalogue ─────────────────────────

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');
/** Not answers to an HTTP client: the CLI's own output, the startup configuration, the dashboard's own texts. */
const NOT_ANSWERS = ['cli', 'config', 'web/client'];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return NOT_ANSWERS.includes(path.relative(SRC, full)) ? [] : sourceFiles(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

/** The text of a call's arguments: from just after `(` to its matching `)`, skipping string contents. */
function argsAt(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i += 1) {
    const c = text[i];
    if (c === '\'' || c === '"' || c === '`') {
      const end = text.indexOf(c, i + 1);
      i = end < 0 ? text.length : end;
    } else if (c === '(') depth += 1;
    else if (c === ')' && (depth -= 1) === 0) return text.slice(open + 1, i);
  }
  return text.slice(open + 1);
}

/** String and template literals in `text` with their contents, and whether each stands alone as an argument. */
function literals(args: string): { text: string; positional: boolean }[] {
  const found: { text: string; positional: boolean }[] = [];
  const re = /(^\s*|[(,]\s*|\bmessage:\s*)(['"`])((?:\\.|(?!\2)[^\\])*)\2/g;
  for (let m = re.exec(args); m; m = re.exec(args)) found.push({ text: m[3] ?? '', positional: !(m[1] ?? '').includes(':') });
  return found;
}

/** A sentence a person reads (not a code, a path, a header or a role). */
const sentence = (s: string) => !isResource(s) && (/\s/.test(s) || /^[A-Z]/.test(s));

describe('the source', () => {
  const files = sourceFiles(SRC).map((file) => ({ file: path.relative(SRC, file), text: fs.readFileSync(file, 'utf8') }));
  const errorClasses = new Set(['AppError', 'ValidationError', 'UnauthorizedError', 'ForbiddenError', 'NotFoundError', 'ConflictError', 'UnprocessableError', 'GateRefusal']);
  for (let grew = true; grew;) {
    grew = false;
    for (const { text } of files) {
      for (const m of text.matchAll(/class (\w+) extends (\w+)/g)) {
        if (m[1] && m[2] && errorClasses.has(m[2]) && !errorClasses.has(m[1])) {
          errorClasses.add(m[1]);
          grew = true;
        }
      }
    }
  }

  test('every error a client can read is thrown with a catalogue message (src/lib/messages.ts)', () => {
    const untranslated: string[] = [];
    const names = [...errorClasses].join('|');
    // lib/errors.ts holds the fallbacks for text not yet in the catalogue, which this test finds where it is thrown.
    for (const { file, text } of files.filter((f) => f.file !== path.join('lib', 'errors.ts'))) {
      const line = (at: number) => text.slice(0, at).split('\n').length;
      // Error constructors, and `super(…)` inside the error classes themselves.
      for (const m of text.matchAll(new RegExp(`new (?:${names})\\(|\\bsuper\\(`, 'g'))) {
        const at = (m.index ?? 0) + m[0].length - 1;
        for (const l of literals(argsAt(text, at))) {
          if (sentence(l.text)) untranslated.push(`${file}:${line(at)} ${l.text}`);
        }
      }
      // Issues built by hand: { path, message: '…' }.
      for (const m of text.matchAll(/\{[^{}]*\bpath\b[^{}]*\bmessage:\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/g)) {
        if (sentence(m[2] ?? '')) untranslated.push(`${file}:${line(m.index ?? 0)} ${m[2]}`);
      }
    }
    assert.deepEqual([...new Set(untranslated)], [], 'say these with msg(key, params) and add the key to src/lib/messages.ts');
  });

  test('every message a schema check gives (refine, regex, addIssue, min, max) is in the catalogue', () => {
    const known = new Set(MESSAGE_KEYS.filter((k) => !takesParams(k)).map((k) => english(plain(k))));
    const outside: string[] = [];
    for (const { file, text } of files) {
      for (const m of text.matchAll(/\.(?:refine|regex|addIssue|min|max|length)\(/g)) {
        const at = (m.index ?? 0) + m[0].length - 1;
        for (const l of literals(argsAt(text, at))) {
          if (sentence(l.text) && !known.has(l.text)) outside.push(`${file}:${text.slice(0, at).split('\n').length} ${l.text}`);
        }
      }
    }
    assert.deepEqual(outside, [], 'use zodMessage(msg(key)) (its English keeps the text) and add the key to src/lib/messages.ts');
  });
});

// ── The API in both languages ───────────────────────────────────────────────────────────────

interface ErrorAnswer {
  error: { code: string; message: string; details?: { issues?: { path: string; message: string }[]; job_id?: number } };
}

let env: TestEnv;
let t: Tenant;

before(async () => {
  env = await startTestEnv();
  t = await createTenant(env);
});
after(() => env.close());

async function call(method: 'GET' | 'POST' | 'PATCH', url: string, opts: { lang?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await env.app.inject({
    method,
    url,
    headers: { ...(opts.headers ?? t.headers), ...(opts.lang ? { 'accept-language': opts.lang } : {}) },
    ...(opts.body === undefined ? {} : { payload: opts.body as Record<string, unknown> }),
  });
  return { status: res.statusCode, headers: res.headers, body: res.json() as ErrorAnswer & Record<string, unknown> };
}

/** The same request in Hebrew and in English: one status, one code, the same issue paths, two languages. */
async function bothLanguages(method: 'GET' | 'POST', url: string, body?: unknown) {
  const he = await call(method, url, { lang: 'he-IL,he;q=0.9,en;q=0.8', body });
  const en = await call(method, url, { lang: 'en', body });
  assert.equal(he.status, en.status);
  assert.equal(he.body.error.code, en.body.error.code, 'codes never change');
  assert.deepEqual(he.body.error.details?.issues?.map((i) => i.path), en.body.error.details?.issues?.map((i) => i.path), 'the same paths');
  assert.match(he.body.error.message, HEBREW, he.body.error.message);
  assert.doesNotMatch(en.body.error.message, HEBREW, en.body.error.message);
  assert.equal(he.headers['content-language'], 'he');
  assert.equal(en.headers['content-language'], 'en');
  assert.match(String(he.headers.vary), /accept-language/i);
  return { he, en };
}

describe('Accept-Language over HTTP', () => {
  test('a 400 in Hebrew: the message and every issue, with the same paths as in English', async () => {
    const { he, en } = await bothLanguages('POST', '/api/v1/leads', { phone: 5, tags: 'x', extra: true });
    assert.equal(he.status, 400);
    assert.equal(en.body.error.code, 'invalid_request');
    const issues = he.body.error.details?.issues ?? [];
    assert.ok(issues.length >= 2, JSON.stringify(issues));
    for (const i of issues) assert.match(i.message, HEBREW, `${i.path}: ${i.message}`);
    assert.equal(en.body.error.details?.issues?.find((i) => i.path === 'body.phone')?.message, 'Invalid input: expected string, received number');
    assert.equal(issues.find((i) => i.path === 'body.phone')?.message, 'צריך להיות טקסט, התקבל מספר');
    assert.match(en.body.error.message, /^The request is invalid: body\.phone: Invalid input/);
    assert.match(he.body.error.message, /^הבקשה אינה תקינה: body\.phone: צריך להיות טקסט/);

    // A 400 of our own (not zod's): an invalid phone, and a refine's message.
    const phone = await bothLanguages('POST', '/api/v1/leads', { phone: '123' });
    assert.equal(phone.en.body.error.message, 'The phone number "123" is not a valid phone number.');
    assert.equal(phone.he.body.error.message, '"123" אינו מספר טלפון תקין.');
    const refine = await bothLanguages('POST', '/api/v1/leads/imported/bulk-delete', { all: true, import_id: 1 });
    assert.equal(refine.en.body.error.details?.issues?.[0]?.message, 'give exactly one of import_id, lead_ids or all: true');
    assert.equal(refine.he.body.error.details?.issues?.[0]?.message, 'צריך לשלוח בדיוק אחד מהשדות import_id, lead_ids או all: true');
  });

  test('a 404 in Hebrew: a resource, and a route', async () => {
    const lead = await bothLanguages('GET', '/api/v1/leads/999999');
    assert.equal(lead.he.status, 404);
    assert.equal(lead.he.body.error.code, 'not_found');
    assert.equal(lead.he.body.error.message, 'הליד לא נמצא.');
    assert.equal(lead.en.body.error.message, 'Lead was not found.');
    const route = await bothLanguages('GET', '/api/v1/no-such-thing');
    assert.equal(route.he.status, 404);
    assert.equal(route.he.body.error.message, 'אין נתיב GET /api/v1/no-such-thing.');
  });

  test('a 401 before anyone is known follows the header too', async () => {
    const res = await call('GET', '/api/v1/leads', { lang: 'he', headers: { authorization: 'Bearer nope' } });
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'unauthorized');
    assert.equal(res.body.error.message, 'אסימון הגישה (bearer token) אינו תקף.');
  });

  test('a 429 of the gate in Hebrew, with its Retry-After and details unchanged', async () => {
    const g = await createTenant(env);
    const { rows } = await env.pool.query<{ id: number }>(
      `INSERT INTO leads (business_id, phone) SELECT $1, '+1212555' || lpad(i::text, 4, '0') FROM generate_series(1, 3) i RETURNING id`,
      [g.businessId],
    );
    // Two bulk deletes a minute are allowed (each waits for the other's lock to go); the third is refused.
    for (const row of rows.slice(0, 2)) {
      const ok = await call('POST', '/api/v1/leads/bulk-delete', { headers: g.headers, body: { lead_ids: [row.id] } });
      assert.equal(ok.status, 202, JSON.stringify(ok.body));
      await waitForJob(env, Number(ok.body.job_id), 'completed');
    }
    const third = rows[2]?.id;
    const he = await call('POST', '/api/v1/leads/bulk-delete', { headers: g.headers, lang: 'he', body: { lead_ids: [third] } });
    const en = await call('POST', '/api/v1/leads/bulk-delete', { headers: g.headers, lang: 'en', body: { lead_ids: [third] } });
    for (const r of [he, en]) {
      assert.equal(r.status, 429);
      assert.equal(r.body.error.code, 'rate_limited');
      assert.match(String(r.headers['retry-after']), /^[1-9]\d*$/);
    }
    assert.equal(he.body.error.message, 'העסק שלכם רשאי לבצע לכל היותר 2 פעולות כאלה בדקה.');
    assert.equal(en.body.error.message, 'At most 2 of these operations per minute are allowed for your business.');
    assert.equal(he.headers['content-language'], 'he');
  });

  test('an import\'s row errors are said in the reader\'s language', async () => {
    const accepted = await call('POST', '/api/v1/leads/import', {
      body: { leads: [{ phone: '' }, { phone: '123' }, { phone: '+12125550199', email: 'nope' }, { phone: '+12125550198', name: 'x'.repeat(300) }] },
    });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    await waitForJob(env, Number(accepted.body.job_id), 'completed');
    const url = `/api/v1/imports/${String(accepted.body.import_id)}`;
    const he = await call('GET', url, { lang: 'he' });
    const en = await call('GET', url, { lang: 'en' });
    assert.equal(he.status, 200);
    const rows = (r: typeof he) => (r.body.errors as { row: number; message: string }[]);
    assert.deepEqual(rows(en).map((e) => e.row), [1, 2, 3, 4]);
    assert.deepEqual(rows(he).map((e) => e.row), [1, 2, 3, 4]);
    assert.equal(rows(en)[0]?.message, 'phone: is required');
    assert.equal(rows(he)[0]?.message, 'טלפון: חובה');
    assert.equal(rows(en)[1]?.message, 'phone: "123" is not a valid phone number');
    assert.equal(rows(he)[1]?.message, 'טלפון: "123" אינו מספר טלפון תקין');
    assert.equal(rows(en)[2]?.message, 'email: Invalid email address');
    assert.match(rows(he)[2]?.message ?? '', /^דוא״ל: /);
    assert.match(rows(he)[3]?.message ?? '', /^שם: .*200/);
    assert.equal(he.headers['content-language'], 'he');
    assert.match(String(he.headers.vary), /accept-language/i);

    // An import made before reasons had keys keeps its English whatever the reader's language.
    await env.pool.query(`UPDATE imports SET errors = '[{"row": 1, "message": "phone: is required"}]'::jsonb WHERE id = $1`, [accepted.body.import_id]);
    assert.equal(rows(await call('GET', url, { lang: 'he' }))[0]?.message, 'phone: is required');
  });
});

describe('the business\'s locale', () => {
  test('without Accept-Language a Hebrew business reads Hebrew; Accept-Language: en still gives English; /me names the locale', async () => {
    const b = await createTenant(env);
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const asIs = await call('GET', '/api/v1/leads/999999', { headers: b.headers });
    assert.equal(asIs.body.error.message, 'Lead was not found.', 'tests run with DEFAULT_LOCALE=en');

    const patched = await call('PATCH', `/api/v1/admin/businesses/${b.businessId}`, { headers: admin, body: { locale: 'he' } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const me = await call('GET', '/api/v1/me', { headers: b.headers });
    assert.equal((me.body.business as { locale: string }).locale, 'he');

    const hebrew = await call('GET', '/api/v1/leads/999999', { headers: b.headers });
    assert.equal(hebrew.body.error.code, 'not_found');
    assert.equal(hebrew.body.error.message, 'הליד לא נמצא.');
    assert.equal(hebrew.headers['content-language'], 'he');
    const english = await call('GET', '/api/v1/leads/999999', { headers: b.headers, lang: 'en-US' });
    assert.equal(english.body.error.code, 'not_found');
    assert.equal(english.body.error.message, 'Lead was not found.');
    const neither = await call('GET', '/api/v1/leads/999999', { headers: b.headers, lang: 'fr-FR' });
    assert.equal(neither.body.error.message, 'הליד לא נמצא.', 'a language we do not speak falls back to the business\'s');

    // Before the caller is known (a bad token) there is no business to follow: the default.
    const anonymous = await call('GET', '/api/v1/leads', { headers: { authorization: 'Bearer nope' } });
    assert.equal(anonymous.body.error.message, 'The bearer token is not valid.');
  });
});
