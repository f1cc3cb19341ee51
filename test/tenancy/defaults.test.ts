import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { loadConfig } from '../../src/config/config.js';
import { normalizePhone } from '../../src/leads/phone.js';
import { ADMIN_TOKEN, startTestEnv, waitForJob, type TestEnv } from '../helpers/harness.js';

describe('Israel and Hebrew by default', () => {
  test('a configuration that sets nothing gives new businesses IL, Asia/Jerusalem and Hebrew; bad values name the variable', () => {
    assert.deepEqual({ ...loadConfig({}).businessDefaults }, { country: 'IL', timezone: 'Asia/Jerusalem', locale: 'he' });
    assert.throws(() => loadConfig({ DEFAULT_COUNTRY: 'il' }), /DEFAULT_COUNTRY/);
    assert.throws(() => loadConfig({ DEFAULT_COUNTRY: 'XX' }), /DEFAULT_COUNTRY/);
    assert.throws(() => loadConfig({ DEFAULT_TIMEZONE: 'Mars/Olympus' }), /DEFAULT_TIMEZONE/);
    assert.throws(() => loadConfig({ DEFAULT_LOCALE: 'fr' }), /DEFAULT_LOCALE/);
  });

  test('Israeli numbers written the usual local ways normalize to E.164 with the country IL', () => {
    const cases: Array<[string, string]> = [
      ['050-1234567', '+972501234567'],
      ['0501234567', '+972501234567'],
      ['+972-50-123-4567', '+972501234567'],
      ['972501234567', '+972501234567'],
      ['00972501234567', '+972501234567'],
      ['054 765 4321', '+972547654321'],
      ['03-6123456', '+97236123456'],
      ['02-6234567', '+97226234567'],
      ['(08) 9123456', '+97289123456'],
      ['077-4123456', '+972774123456'],
    ];
    for (const [typed, e164] of cases) assert.equal(normalizePhone(typed, 'IL'), e164, typed);
    assert.equal(normalizePhone('050-123456', 'IL'), null, 'one digit short');
    assert.equal(normalizePhone('050-1234567', 'US'), null, 'the same text is no US number');
  });

  test('property: every generated Israeli mobile or landline, in any of the local spellings, normalizes to its E.164 form', () => {
    const mobile = fc.tuple(fc.constantFrom('50', '52', '53', '54', '55', '58'), fc.integer({ min: 2_000_000, max: 9_999_999 })).map(([p, n]) => `${p}${n}`);
    const landline = fc.tuple(fc.constantFrom('2', '3', '4', '8', '9'), fc.integer({ min: 2_000_000, max: 9_999_999 })).map(([p, n]) => `${p}${n}`);
    const spell = (national: string, style: number): string => {
      const area = national.length === 9 ? national.slice(0, 2) : national.slice(0, 1);
      const rest = national.slice(area.length);
      switch (style) {
        case 0: return `0${area}-${rest}`;
        case 1: return `0${national}`;
        case 2: return `+972-${area}-${rest.slice(0, 3)}-${rest.slice(3)}`;
        case 3: return `972${national}`;
        case 4: return `+972 ${area} ${rest}`;
        default: return `(0${area}) ${rest}`;
      }
    };
    fc.assert(fc.property(fc.oneof(mobile, landline), fc.integer({ min: 0, max: 5 }), (national, style) => {
      assert.equal(normalizePhone(spell(national, style), 'IL'), `+972${national}`);
    }), { numRuns: 2000 });
  });
});

describe('a business on the production defaults', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv({ env: { DEFAULT_COUNTRY: 'IL', DEFAULT_TIMEZONE: 'Asia/Jerusalem', DEFAULT_LOCALE: 'he' } });
  });
  after(() => env.close());

  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  test('is Israeli and Hebrew; country, time zone and locale change with PATCH, bad values are 400 naming the field', async () => {
    const created = await env.app.inject({ method: 'POST', url: '/api/v1/admin/businesses', headers: admin, payload: { name: 'סוכנות' } });
    assert.equal(created.statusCode, 201);
    const b = created.json<{ business: { id: number; default_country: string; timezone: string; locale: string } }>().business;
    assert.deepEqual([b.default_country, b.timezone, b.locale], ['IL', 'Asia/Jerusalem', 'he']);
    const patched = await env.app.inject({ method: 'PATCH', url: `/api/v1/admin/businesses/${b.id}`, headers: admin, payload: { default_country: 'GB', timezone: 'Europe/London', locale: 'en' } });
    assert.equal(patched.statusCode, 200);
    const p = patched.json<{ business: { default_country: string; timezone: string; locale: string } }>().business;
    assert.deepEqual([p.default_country, p.timezone, p.locale], ['GB', 'Europe/London', 'en']);
    for (const [field, value] of [['default_country', 'gb'], ['default_country', 'XX'], ['locale', 'fr'], ['timezone', 'Mars/Olympus']] as const) {
      const bad = await env.app.inject({ method: 'PATCH', url: `/api/v1/admin/businesses/${b.id}`, headers: admin, payload: { [field]: value } });
      assert.equal(bad.statusCode, 400, `${field}=${value}`);
      assert.equal(bad.json<{ error: { details: { issues: { path: string }[] } } }>().error.details.issues[0]?.path, `body.${field}`);
    }
  });

  test('an Israeli CSV of 1 000 rows in local formats imports with 0 invalid', async () => {
    const created = await env.app.inject({ method: 'POST', url: '/api/v1/admin/businesses', headers: admin, payload: { name: 'ייבוא' } });
    const { token } = created.json<{ token: string }>();
    const styles = [(n: string) => `0${n.slice(0, 2)}-${n.slice(2)}`, (n: string) => `0${n}`, (n: string) => `+972-${n.slice(0, 2)}-${n.slice(2, 5)}-${n.slice(5)}`, (n: string) => `972${n}`];
    const rows = ['phone,name'];
    for (let i = 0; i < 1000; i++) {
      const national = i % 10 === 0 ? `3${6_000_000 + i}` : `5${[0, 2, 3, 4, 8][i % 5]}${2_000_000 + i * 7}`;
      const spelled = national.length === 8 ? `03-${national.slice(1)}` : (styles[i % styles.length] ?? String)(national);
      rows.push(`${spelled},ליד ${i}`);
    }
    const res = await env.app.inject({ method: 'POST', url: '/api/v1/leads/import', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' }, payload: rows.join('\n') });
    assert.equal(res.statusCode, 202, res.body);
    const { job_id: jobId, import_id: importId } = res.json<{ job_id: number; import_id: number }>();
    await waitForJob(env, jobId, 'completed');
    const summary = await env.app.inject({ method: 'GET', url: `/api/v1/imports/${importId}`, headers: { authorization: `Bearer ${token}` } });
    const s = summary.json<{ inserted: number; invalid: number; duplicates: number; errors: unknown[] }>();
    assert.deepEqual({ inserted: s.inserted, invalid: s.invalid, duplicates: s.duplicates }, { inserted: 1000, invalid: 0, duplicates: 0 }, JSON.stringify(s.errors.slice(0, 3)));
    const { rows: stored } = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM leads WHERE import_id = $1 AND phone LIKE '+972%'`, [importId]);
    assert.equal(stored[0]?.n, 1000);
  });
});
