/**
 * The dashboard's Settings page in real Chromium against an in-process API (no worker: nothing
 * here runs a job): an admin changes the business's time zone and a caller id and they stay
 * changed (in the page after a reload, and in the API); a refused caller id shows the API's own
 * message at its field and changes nothing; changing the language reloads the dashboard in it;
 * an agent is not offered the page. Each test has its own business.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { getCountries } from 'libphonenumber-js';
import type { Page } from 'playwright-core';
import type { DialerSettings, OwnBusiness, VoiceChannel } from '../../src/contract/index.js';
import { PHONE_COUNTRIES } from '../../src/web/client/countries.js';
import { createTenant, startTestEnv, type Tenant, type TestEnv } from '../helpers/harness.js';
import { tokenWithRole } from '../people/helpers.js';
import { screenshot, signInWithToken, startWithChromium, type Chromium } from './browser.js';

let env: TestEnv;
let chromium: Chromium;

before(async () => {
  ({ env, chromium } = await startWithChromium(startTestEnv({ listen: true, worker: false })));
});

after(async () => {
  await chromium?.close();
  await env?.close();
});

async function api<T>(method: string, url: string, bearer: string, body?: unknown, lang = 'en'): Promise<{ status: number; json: T }> {
  const res = await env.app.inject({
    method: method as 'GET',
    url: `/api/v1${url}`,
    headers: { authorization: `Bearer ${bearer}`, 'accept-language': lang },
    ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
  });
  return { status: res.statusCode, json: JSON.parse(res.body) as T };
}

async function auditCount(businessId: number): Promise<number> {
  const { rows } = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE business_id = $1 AND action IN ('business.update', 'channel.update', 'settings.update')`, [businessId]);
  return rows[0]?.n ?? -1;
}

/** A business (US, UTC, English) with one caller id, and one of its admins signed in on the Settings page. */
async function adminOnSettings(): Promise<{ t: Tenant; admin: string; page: Page; number: (i: number) => string }> {
  const t = await createTenant(env);
  // A number calls for one business only: each business its own.
  const number = (i: number): string => `+1646555${String(t.businessId * 10 + i).padStart(4, '0')}`;
  const set = await api('PUT', '/channels/voice', t.token, { caller_ids: [number(0)] });
  assert.equal(set.status, 200, JSON.stringify(set.json));
  const { token: admin } = await tokenWithRole(env, t.businessId, `admin-${t.businessId}@settings.test`, 'admin');
  const page = await chromium.newPage();
  await signInWithToken(page, env.baseUrl, admin, '#/settings');
  await page.locator('h1', { hasText: 'Settings' }).waitFor();
  await page.locator('section.settings-voice').getByLabel('Caller id 1', { exact: true }).waitFor();
  return { t, admin, page, number };
}

const saveIn = (page: Page, section: string) => page.locator(`section.settings-${section}`).getByRole('button', { name: 'Save' }).click();
const savedIn = (page: Page, section: string) => page.locator(`section.settings-${section} .status .saved`).waitFor();

afterEach(() => chromium?.closePages());

describe('dashboard: settings', () => {
  test('the page offers exactly the countries the server can read numbers of', () => {
    assert.deepEqual([...PHONE_COUNTRIES], getCountries());
  });

  test('an admin changes the time zone and a caller id: saved, shown after a reload, and so in the API', async () => {
    const { t, admin, page, number } = await adminOnSettings();
    const business = page.locator('section.settings-business');
    assert.equal(await business.getByLabel('Time zone').inputValue(), 'UTC');
    assert.match((await page.locator('.zone-note').textContent()) ?? '', /time zone, UTC:/);
    assert.match((await page.locator('.call-limit').textContent()) ?? '', /up to 3\b.*platform operator/);

    await business.getByLabel('Time zone').selectOption('Asia/Tokyo');
    await saveIn(page, 'business');
    await savedIn(page, 'business');
    await page.locator('.zone-note', { hasText: 'Asia/Tokyo' }).waitFor();

    const voice = page.locator('section.settings-voice');
    // Typed the local ways; the business's country (US) reads them.
    await voice.getByLabel('Caller id 1', { exact: true }).fill(`(646) 555-${number(1).slice(-4)}`);
    await voice.getByRole('button', { name: 'Add a caller id' }).click();
    await voice.getByLabel('Caller id 2', { exact: true }).fill(`+1 646 555 ${number(2).slice(-4)}`);
    await saveIn(page, 'voice');
    await savedIn(page, 'voice');
    // Read back as the API stored them: E.164.
    assert.equal(await voice.getByLabel('Caller id 1', { exact: true }).inputValue(), number(1));
    assert.equal(await voice.getByLabel('Caller id 2', { exact: true }).inputValue(), number(2));
    await screenshot(page, 'settings');

    await page.reload();
    await page.locator('section.settings-voice').getByLabel('Caller id 2', { exact: true }).waitFor();
    assert.equal(await page.locator('section.settings-business').getByLabel('Time zone').inputValue(), 'Asia/Tokyo');
    assert.equal(await page.locator('section.settings-voice').getByLabel('Caller id 1', { exact: true }).inputValue(), number(1));
    assert.equal(await page.locator('section.settings-voice').getByLabel('Caller id 2', { exact: true }).inputValue(), number(2));

    const own = await api<OwnBusiness>('GET', '/business', admin);
    assert.deepEqual([own.json.timezone, own.json.default_country, own.json.locale], ['Asia/Tokyo', 'US', 'en']);
    assert.deepEqual((await api<VoiceChannel>('GET', '/channels/voice', t.token)).json.caller_ids, [number(1), number(2)]);
    const { rows } = await env.pool.query<{ action: string }>(`SELECT action FROM audit_log WHERE business_id = $1 AND action IN ('business.update', 'channel.update') ORDER BY id`, [t.businessId]);
    assert.deepEqual(rows.map((r) => r.action), ['channel.update', 'business.update', 'channel.update'], 'the set-up PUT, then one entry per save');
  });

  test('retries per outcome: machines called again the next day, busy after 5 minutes; saved and so in the API; 11 attempts is the API\'s 400 at its field', async () => {
    const { t, page } = await adminOnSettings();
    const retry = page.locator('section.settings-retry');
    const row = (o: string) => retry.locator(`tr[data-outcome=${o}]`);
    assert.equal(await row('machine').locator('input[name=retry_machine_attempts]').inputValue(), '0');

    await row('machine').locator('input[name=retry_machine_attempts]').fill('1');
    await row('machine').locator('select').selectOption('next_day');
    assert.equal(await row('machine').locator('input[name=retry_machine_minutes]').isDisabled(), true, 'no minutes for "next day"');
    await row('busy').locator('input[name=retry_busy_attempts]').fill('2');
    await row('busy').locator('input[name=retry_busy_minutes]').fill('5');
    await saveIn(page, 'retry');
    await savedIn(page, 'retry');
    const { json } = await api<DialerSettings>('GET', '/outbound/settings', t.token);
    assert.deepEqual(json.retry.per_outcome.machine, { attempts: 1, after: 'next_day', delay_s: null });
    assert.deepEqual(json.retry.per_outcome.busy, { attempts: 2, after: 'delay', delay_s: 300 });
    assert.equal(json.retry.busy, 2, 'the legacy field is the same count');

    await row('no_answer').locator('input[name=retry_no_answer_attempts]').fill('11');
    await saveIn(page, 'retry');
    const issue = retry.locator('.field-issue');
    await issue.waitFor();
    assert.equal(await row('no_answer').locator('input[name=retry_no_answer_attempts]').getAttribute('aria-invalid'), 'true');
    assert.deepEqual((await api<DialerSettings>('GET', '/outbound/settings', t.token)).json.retry, json.retry, 'nothing changed');

    await page.reload();
    await row('machine').locator('select').waitFor();
    assert.equal(await row('machine').locator('select').inputValue(), 'next_day');
    assert.equal(await row('busy').locator('input[name=retry_busy_minutes]').inputValue(), '5');
  });

  test('a bad caller id: the API\'s message, at its field; nothing changes', async () => {
    const { t, page, number } = await adminOnSettings();
    const before = (await api<VoiceChannel>('GET', '/channels/voice', t.token)).json;
    const audited = await auditCount(t.businessId);
    // What the API says to this very request.
    const refusal = await api<{ error: { message: string; details: { issues: Array<{ path: string; message: string }> } } }>(
      'PUT', '/channels/voice', t.token, { caller_ids: [number(0), '12345'], twilio: null });
    assert.equal(refusal.status, 400);
    const issue = refusal.json.error.details.issues.find((i) => i.path === 'body.caller_ids.1');
    assert.ok(issue, JSON.stringify(refusal.json));

    const voice = page.locator('section.settings-voice');
    await voice.getByRole('button', { name: 'Add a caller id' }).click();
    await voice.getByLabel('Caller id 2', { exact: true }).fill('12345');
    await saveIn(page, 'voice');
    const alert = voice.getByRole('alert');
    await alert.waitFor();
    assert.equal(await alert.textContent(), `Error: ${refusal.json.error.message}`);
    const second = voice.getByLabel('Caller id 2', { exact: true });
    assert.equal(await second.getAttribute('aria-invalid'), 'true');
    assert.equal(await voice.locator('.field-issue').textContent(), issue.message);
    assert.equal(await voice.getByLabel('Caller id 1', { exact: true }).getAttribute('aria-invalid'), null, 'only the bad one is marked');
    assert.ok(await second.evaluate((el) => el === document.activeElement), 'the bad field has the focus');

    assert.deepEqual((await api<VoiceChannel>('GET', '/channels/voice', t.token)).json, before);
    assert.equal(await auditCount(t.businessId), audited);
    await page.reload();
    await page.locator('section.settings-voice').getByLabel('Caller id 1', { exact: true }).waitFor();
    assert.equal(await page.locator('section.settings-voice').getByLabel('Caller id 2', { exact: true }).count(), 0);
  });

  test('secrets: shown only as …last4, never in the page; an empty field keeps the stored one', async () => {
    const { t, page, number } = await adminOnSettings();
    const authToken = `tok_${t.businessId}_${'a'.repeat(24)}Zq9x`;
    const accessToken = `EAAG${t.businessId}${'b'.repeat(30)}Wv7y`;
    const phoneNumberId = `3000000${String(t.businessId).padStart(8, '0')}`;
    const sid = `AC${'0123456789abcdef'.repeat(2)}`;

    const voice = page.locator('section.settings-voice');
    await voice.getByLabel('Use the business’s own Twilio subaccount').check();
    await voice.getByLabel('Account SID').fill(sid);
    await voice.getByLabel('Auth token').fill(authToken);
    await saveIn(page, 'voice');
    await savedIn(page, 'voice');
    await voice.getByText('Stored: …Zq9x').waitFor();
    assert.equal(await voice.getByLabel('Auth token').inputValue(), '');

    const whatsapp = page.locator('section.settings-whatsapp');
    await whatsapp.getByLabel('Phone number id').fill(phoneNumberId);
    await whatsapp.getByLabel('Access token').fill(accessToken);
    await saveIn(page, 'whatsapp');
    await savedIn(page, 'whatsapp');
    await whatsapp.getByText('Stored: …Wv7y').waitFor();

    // Another caller id, the token field left empty: the subaccount and its token stay.
    await voice.getByLabel('Caller id 1', { exact: true }).fill(number(3));
    await saveIn(page, 'voice');
    await savedIn(page, 'voice');
    const stored = (await api<VoiceChannel>('GET', '/channels/voice', t.token)).json;
    assert.deepEqual([stored.caller_ids, stored.twilio], [[number(3)], { account_sid: sid, auth_token: '…Zq9x' }]);
    const { rows } = await env.pool.query<{ details: { auth_token_changed: boolean } }>(
      `SELECT details FROM audit_log WHERE business_id = $1 AND action = 'channel.update' AND target_id = 'voice' ORDER BY id DESC LIMIT 1`, [t.businessId]);
    assert.equal(rows[0]?.details.auth_token_changed, false, 'the stored token was kept, not replaced');

    await page.reload();
    await page.locator('section.settings-whatsapp').getByText('Stored: …Wv7y').waitFor();
    const html = await page.content();
    assert.ok(!html.includes(authToken) && !html.includes(accessToken), 'a secret reached the page');
    assert.equal(await page.locator('section.settings-whatsapp').getByLabel('Phone number id').inputValue(), phoneNumberId);
  });

  test('changing the language reloads the dashboard in it, right to left; the API\'s messages follow', async () => {
    const { t, page } = await adminOnSettings();
    await page.locator('section.settings-business').getByLabel('Language of the business').selectOption('he');
    await saveIn(page, 'business');
    await page.locator('h1', { hasText: 'הגדרות' }).waitFor();
    assert.deepEqual(await page.evaluate(() => [document.documentElement.dir, document.documentElement.lang]), ['rtl', 'he']);
    assert.equal((await api<OwnBusiness>('GET', '/business', t.token)).json.locale, 'he');
    assert.equal(await page.locator('header nav a[aria-current="page"]').textContent(), 'הגדרות');

    const voice = page.locator('section.settings-voice');
    await voice.getByLabel('מספר יוצא 1', { exact: true }).fill('not a number');
    await voice.getByRole('button', { name: 'שמירה' }).click();
    const alert = voice.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /[\u0590-\u05FF]{3}/, 'the API answered in Hebrew');
    assert.match((await voice.locator('.field-issue').textContent()) ?? '', /אינו מספר טלפון תקין/);
    // Right to left: the section's heading starts at the right edge, and the number still reads left to right.
    const [section, heading] = await Promise.all([voice.boundingBox(), voice.locator('h2').boundingBox()]);
    assert.ok(section && heading && heading.x + heading.width > section.x + section.width - 40, 'the heading sits at the right');
    assert.equal(await voice.getByLabel('מספר יוצא 1', { exact: true }).getAttribute('dir'), 'ltr');
    await screenshot(page, 'settings-he');
  });

  test('an agent is not offered Settings, and a typed link says why', async () => {
    const t = await createTenant(env);
    const { token: agent } = await tokenWithRole(env, t.businessId, `agent-${t.businessId}@settings.test`, 'agent');
    const page = await chromium.newPage();
    await signInWithToken(page, env.baseUrl, agent);
    await page.locator('h1', { hasText: 'Leads' }).waitFor();
    const links = await page.locator('header nav a').allTextContents();
    assert.ok(!links.includes('Settings'), `an agent's menu: ${links.join(', ')}`);
    await page.evaluate(() => (location.hash = '#/settings'));
    await page.getByRole('alert').filter({ hasText: 'for admins and owners' }).waitFor();
    assert.equal(await page.locator('section.settings-business').count(), 0);
    // Its own admin sees it.
    const owner = await chromium.newPage();
    await signInWithToken(owner, env.baseUrl, t.token);
    await owner.locator('header nav a', { hasText: 'Settings' }).waitFor();
  });

  test('no page threw an uncaught exception during these tests', () => {
    assert.deepEqual(chromium.pageErrors, []);
  });
});
