import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { OwnBusiness } from '../../src/contract/index.js';
import { ADMIN_TOKEN, createTenant, startTestEnv, type Tenant, type TestEnv } from '../helpers/harness.js';
import { http, tokenWithRole } from '../people/helpers.js';

/**
 * `GET|PATCH /api/v1/business` (issue 14): a business's own people read it, its admins and owners
 * change its country, time zone and language — validated, audited in the same transaction as the
 * change, and only ever their own business. The call limit stays with the platform operator.
 */
let env: TestEnv;
let a: Tenant;
let b: Tenant;
let agentA: string;
let adminA: string;

interface ErrorAnswer { error: { code: string; message: string; details: { issues?: Array<{ path: string; message: string }>; required_role?: string } } }

before(async () => {
  env = await startTestEnv({ listen: true, worker: false });
  a = await createTenant(env, { name: 'Alpha Ltd' });
  b = await createTenant(env, { name: 'Beta Ltd', default_country: 'GB', timezone: 'Europe/London' });
  agentA = (await tokenWithRole(env, a.businessId, 'agent@alpha.test', 'agent')).token;
  adminA = (await tokenWithRole(env, a.businessId, 'admin@alpha.test', 'admin')).token;
});
after(() => env.close());

async function row(businessId: number): Promise<{ default_country: string; timezone: string; locale: string; max_outbound_calls: number }> {
  const { rows } = await env.pool.query(`SELECT default_country, timezone, locale, max_outbound_calls FROM businesses WHERE id = $1`, [businessId]);
  return rows[0] as { default_country: string; timezone: string; locale: string; max_outbound_calls: number };
}

async function audits(businessId: number): Promise<Array<{ action: string; user_email: string | null; target_type: string; target_id: string; details: Record<string, unknown> }>> {
  const { rows } = await env.pool.query(
    `SELECT action, user_email, target_type, target_id, details FROM audit_log WHERE business_id = $1 AND action = 'business.update' ORDER BY id`,
    [businessId],
  );
  return rows as Array<{ action: string; user_email: string | null; target_type: string; target_id: string; details: Record<string, unknown> }>;
}

describe('GET|PATCH /business', () => {
  test('every role reads its own business: name, country, time zone, language and the call limit', async () => {
    for (const bearer of [a.token, adminA, agentA]) {
      const res = await http<OwnBusiness>(env, 'GET', '/business', { bearer });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.id, a.businessId);
      assert.equal(res.body.name, 'Alpha Ltd');
      assert.deepEqual(
        { default_country: res.body.default_country, timezone: res.body.timezone, locale: res.body.locale, max_outbound_calls: res.body.max_outbound_calls },
        await row(a.businessId),
      );
      assert.ok(!('rate_limits' in res.body), 'the platform\'s rate limits are not shown to the business');
    }
  });

  test('an admin changes country, time zone and language; one audit row with the values before; the change applies at once', async () => {
    const before = await row(a.businessId);
    const res = await http<OwnBusiness>(env, 'PATCH', '/business', { bearer: adminA, body: { default_country: 'IL', timezone: 'Asia/Jerusalem', locale: 'he' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual([res.body.default_country, res.body.timezone, res.body.locale], ['IL', 'Asia/Jerusalem', 'he']);
    assert.deepEqual(await row(a.businessId), { default_country: 'IL', timezone: 'Asia/Jerusalem', locale: 'he', max_outbound_calls: before.max_outbound_calls });

    const entries = await audits(a.businessId);
    assert.equal(entries.length, 1);
    assert.deepEqual(entries[0], {
      action: 'business.update',
      user_email: 'admin@alpha.test',
      target_type: 'business',
      target_id: String(a.businessId),
      details: { default_country: 'IL', timezone: 'Asia/Jerusalem', locale: 'he', previous: { default_country: before.default_country, timezone: before.timezone, locale: before.locale } },
    });

    // Local numbers are read in the new country, calling hours run in the new zone, messages come in the new language.
    const lead = await http<{ phone: string }>(env, 'POST', '/leads', { bearer: a.token, body: { phone: '050-1234567' } });
    assert.equal(lead.status, 201, JSON.stringify(lead.body));
    assert.equal(lead.body.phone, '+972501234567');
    const settings = await http<{ timezone: string }>(env, 'GET', '/outbound/settings', { bearer: agentA });
    assert.equal(settings.body.timezone, 'Asia/Jerusalem');
    const missing = await http<ErrorAnswer>(env, 'GET', '/leads/999999999', { bearer: a.token });
    assert.equal(missing.status, 404);
    assert.match(missing.body.error.message, /[\u0590-\u05FF]/, 'the business\'s language now answers');

    // One field alone changes only that field; the audit shows only what was sent.
    const tz = await http<OwnBusiness>(env, 'PATCH', '/business', { bearer: a.token, body: { timezone: 'America/New_York' } });
    assert.equal(tz.status, 200, JSON.stringify(tz.body));
    assert.deepEqual([tz.body.default_country, tz.body.timezone, tz.body.locale], ['IL', 'America/New_York', 'he']);
    assert.deepEqual((await audits(a.businessId)).at(-1)?.details, { timezone: 'America/New_York', previous: { timezone: 'Asia/Jerusalem' } });
  });

  test('bad values: 400 naming the field, in English and in Hebrew; nothing changes and nothing is audited', async () => {
    const before = await row(a.businessId);
    const auditedBefore = (await audits(a.businessId)).length;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ default_country: 'il' }, 'body.default_country'],
      [{ default_country: 'XX' }, 'body.default_country'],
      [{ default_country: 'AQ' }, 'body.default_country'],
      [{ timezone: 'Mars/Olympus' }, 'body.timezone'],
      [{ timezone: '' }, 'body.timezone'],
      [{ locale: 'fr' }, 'body.locale'],
      [{ locale: 'he', timezone: 'Asia/Jerusalem', max_outbound_calls: 50 }, 'body'],
      [{ name: 'Renamed' }, 'body'],
      [{}, 'body'],
    ];
    for (const [body, path] of cases) {
      for (const lang of ['en', 'he'] as const) {
        const res = await http<ErrorAnswer>(env, 'PATCH', '/business', { bearer: adminA, body, headers: { 'accept-language': lang } });
        const what = `${JSON.stringify(body)} (${lang})`;
        assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'invalid_request', what);
        const issues = res.body.error.details.issues ?? [];
        assert.ok(issues.some((i) => i.path === path), `${what}: no issue at ${path}: ${JSON.stringify(issues)}`);
        const text = issues.map((i) => i.message).join(' ');
        if (lang === 'he') assert.match(text, /[\u0590-\u05FF]/, `${what}: the issue is not in Hebrew: ${text}`);
        else assert.doesNotMatch(text, /[\u0590-\u05FF]/, `${what}: ${text}`);
      }
    }
    const country = await http<ErrorAnswer>(env, 'PATCH', '/business', { bearer: adminA, body: { default_country: 'XX' }, headers: { 'accept-language': 'en' } });
    assert.match(country.body.error.details.issues?.[0]?.message ?? '', /country whose phone numbers we can read/);
    assert.deepEqual(await row(a.businessId), before);
    assert.equal((await audits(a.businessId)).length, auditedBefore);
  });

  test('an agent is refused with 403 naming the admin role; nothing changes', async () => {
    const before = await row(a.businessId);
    const auditedBefore = (await audits(a.businessId)).length;
    const res = await http<ErrorAnswer>(env, 'PATCH', '/business', { bearer: agentA, body: { timezone: 'UTC' } });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'forbidden');
    assert.equal(res.body.error.details.required_role, 'admin');
    assert.deepEqual(await row(a.businessId), before);
    assert.equal((await audits(a.businessId)).length, auditedBefore);
    assert.equal((await http(env, 'PATCH', '/business', { body: { timezone: 'UTC' } })).status, 401, 'no bearer, no session');
  });

  test('isolation: a business reads and changes only itself; another business\'s id in the body is refused', async () => {
    const bBefore = await row(b.businessId);
    const bAudited = (await audits(b.businessId)).length;
    const seen = await http<OwnBusiness>(env, 'GET', '/business', { bearer: b.token });
    assert.equal(seen.body.id, b.businessId);
    assert.equal(seen.body.name, 'Beta Ltd');
    assert.deepEqual([seen.body.default_country, seen.body.timezone], ['GB', 'Europe/London']);

    const smuggled = await http<ErrorAnswer>(env, 'PATCH', '/business', { bearer: a.token, body: { id: b.businessId, timezone: 'Asia/Tokyo' } });
    assert.equal(smuggled.status, 400);
    assert.equal((await http(env, 'PATCH', `/business/${b.businessId}`, { bearer: a.token, body: { timezone: 'Asia/Tokyo' } })).status, 404);
    assert.equal((await http(env, 'GET', `/business/${b.businessId}`, { bearer: a.token })).status, 404);

    const own = await http<OwnBusiness>(env, 'PATCH', '/business', { bearer: a.token, body: { timezone: 'Asia/Tokyo' } });
    assert.equal(own.status, 200);
    assert.equal(own.body.id, a.businessId);
    assert.deepEqual(await row(b.businessId), bBefore, 'the other business did not change');
    assert.equal((await audits(b.businessId)).length, bAudited, 'nothing audited in the other business');
    assert.equal((await http<OwnBusiness>(env, 'GET', '/business', { bearer: b.token })).body.timezone, 'Europe/London');
  });

  test('the call limit is the platform operator\'s: its PATCH changes it and /business shows it', async () => {
    const res = await fetch(`${env.baseUrl}/api/v1/admin/businesses/${a.businessId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ max_outbound_calls: 7 }),
    });
    assert.equal(res.status, 200);
    assert.equal((await http<OwnBusiness>(env, 'GET', '/business', { bearer: agentA })).body.max_outbound_calls, 7);
  });
});
