/**
 * The dashboard's people pages in real Chromium against an in-process API + worker: signing in
 * with email and password (and through an invitation link), users and roles, API tokens, the
 * audit log and the trash. Each test has its own business; waits are for states in the page or
 * the database, never fixed sleeps.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { ADMIN_TOKEN, startTestEnv, waitFor, waitForJob, type TestEnv } from '../helpers/harness.js';
import { makeLeads } from '../outbound/helpers.js';
import { screenshot, signInWithPassword, startWithChromium, type Chromium } from './browser.js';

let env: TestEnv;
let chromium: Chromium;
const PASSWORD = 'correct horse battery';

before(async () => {
  // Small batches: a restore of a few dozen leads takes several batches.
  ({ env, chromium } = await startWithChromium(startTestEnv({ listen: true, env: { JOB_BATCH_SIZE: '10' } })));
});

after(async () => {
  await chromium?.close();
  await env?.close();
});

/** A fresh browser context: its own cookies and storage, as another person's browser. */
const newPage = (): Promise<Page> => chromium.newPage();

interface Owner {
  businessId: number;
  email: string;
  /** The admin API's bearer token of the first user, for setting up data quickly. */
  headers: Record<string, string>;
  inviteToken: string;
}

async function api(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, headers: Record<string, string>, payload?: unknown) {
  const res = await env.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  return { status: res.statusCode, json: (res.body ? JSON.parse(res.body) : {}) as Record<string, unknown> };
}

/** A business from the admin API: its owner, not yet with a password. */
async function createBusiness(): Promise<Owner> {
  const res = await api('POST', '/admin/businesses', { authorization: `Bearer ${ADMIN_TOKEN}` }, { name: `Biz ${Math.random().toString(36).slice(2, 8)}` });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  const body = res.json as { business: { id: number }; user: { email: string }; token: string; invite_token: string };
  assert.ok(body.invite_token, 'the first user comes with an invitation');
  return { businessId: body.business.id, email: body.user.email, headers: { authorization: `Bearer ${body.token}` }, inviteToken: body.invite_token };
}

/** A business whose owner already chose a password (through the API). */
async function ownerWithPassword(): Promise<Owner> {
  const owner = await createBusiness();
  const res = await api('POST', '/auth/accept-invite', {}, { invite_token: owner.inviteToken, password: PASSWORD });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return owner;
}

function leadsOf(owner: Owner, n: number): Promise<Array<{ id: number; phone: string }>> {
  return makeLeads(env, { businessId: owner.businessId, userId: 0, token: '', headers: owner.headers }, n);
}

function signIn(page: Page, email: string, password = PASSWORD, hash = ''): Promise<void> {
  return signInWithPassword(page, env.baseUrl, email, password, hash);
}

async function navLinks(page: Page): Promise<string[]> {
  return page.locator('header nav a').allTextContents();
}

/** A request the page's own code would make, with the session cookie and the CSRF header. */
async function fetchAsPage(page: Page, method: string, url: string, body?: unknown): Promise<[number, string]> {
  return page.evaluate(async ([m, u, b]) => {
    const csrf = /(?:^|;\s*)bh_csrf=([^;]*)/.exec(document.cookie)?.[1];
    const res = await fetch(`/api/v1${u}`, {
      method: m,
      headers: { 'content-type': 'application/json', ...(csrf ? { 'x-csrf-token': decodeURIComponent(csrf) } : {}) },
      ...(b === undefined ? {} : { body: JSON.stringify(b) }),
    });
    const text = await res.text();
    let code = '';
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '';
    } catch {
      // not JSON
    }
    return [res.status, code] as [number, string];
  }, [method, url, body] as const);
}

afterEach(() => chromium?.closePages());

describe('dashboard: people', () => {
  test('an invitation link sets the password and signs in; the sign-in form takes email and password', async () => {
    const owner = await createBusiness();
    const page = await newPage();
    await page.goto(`${env.baseUrl}/#invite=${encodeURIComponent(owner.inviteToken)}`);
    await page.locator('h1', { hasText: 'Set your password' }).waitFor();
    assert.ok(!page.url().includes(owner.inviteToken), `the invitation left the address bar: ${page.url()}`);
    await page.getByLabel('New password').fill('short');
    await page.getByLabel('Repeat the password').fill('short');
    await page.getByRole('button', { name: 'Set password and sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'at least 10 characters' }).waitFor();
    await page.getByLabel('New password').fill(PASSWORD);
    await page.getByLabel('Repeat the password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Set password and sign in' }).click();
    await page.locator('h1', { hasText: 'Leads' }).waitFor();
    assert.match((await page.locator('header .who').textContent()) ?? '', new RegExp(`${owner.email.replace(/[.+]/g, '\\$&')} \\(Owner\\)`));
    const session = (await page.context().cookies()).find((c) => c.name === 'bh_session');
    assert.ok(session?.httpOnly, 'the session cookie is httpOnly');
    assert.equal(await page.evaluate(() => localStorage.getItem('bulkhead.token')), null, 'no token stored: the cookie signs in');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Email', { exact: true }).waitFor();
    await page.reload();
    await page.getByLabel('Email', { exact: true }).waitFor();
    assert.equal(await page.locator('header').count(), 0, 'signed out stays signed out');

    await page.getByLabel('Email', { exact: true }).fill(owner.email);
    await page.getByLabel('Password', { exact: true }).fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong email or password.' }).waitFor();
    await screenshot(page, 'signin-password');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('h1', { hasText: 'Leads' }).waitFor();
    // The cookie session survives a reload: GET /me answers for it.
    await page.reload();
    await page.locator('h1', { hasText: 'Leads' }).waitFor();
    assert.deepEqual(await navLinks(page), ['Leads', 'Jobs', 'Calls', 'Broadcasts', 'Receipts', 'Users', 'API tokens', 'Audit', 'Trash', 'Settings']);

    // The spent invitation says so instead of failing silently.
    const again = await newPage();
    await again.goto(`${env.baseUrl}/#invite=${encodeURIComponent(owner.inviteToken)}`);
    await again.getByLabel('New password').fill(PASSWORD);
    await again.getByLabel('Repeat the password').fill(PASSWORD);
    await again.getByRole('button', { name: 'Set password and sign in' }).click();
    await again.getByRole('alert').filter({ hasText: 'no longer valid' }).waitFor();
  });

  test('an invited agent signs in and sees no bulk, users, tokens, audit or trash controls; the API refuses them anyway', async () => {
    const owner = await ownerWithPassword();
    const leads = await leadsOf(owner, 5);
    // A job in the list, so the Jobs page has rows whose controls an agent must not get.
    const job = await api('POST', '/leads/bulk-update', owner.headers, { lead_ids: leads.map((l) => l.id), set: { status: 'contacted' } });
    assert.equal(job.status, 202, JSON.stringify(job.json));

    const admin = await newPage();
    await signIn(admin, owner.email, PASSWORD, '#/users');
    await admin.locator('h1', { hasText: 'Users' }).waitFor();
    const agentEmail = `agent-${Date.now()}@example.com`;
    await admin.getByLabel('Email', { exact: true }).fill(agentEmail);
    await admin.getByLabel('Role', { exact: true }).selectOption('agent');
    await admin.getByRole('button', { name: 'Invite', exact: true }).click();
    const link = admin.getByRole('textbox', { name: 'Invitation link' });
    await link.waitFor();
    const url = await link.inputValue();
    assert.match(url, new RegExp(`^${env.baseUrl}/#invite=.+`));
    const agentRow = admin.locator(`table.users tr[data-email="${agentEmail}"]`);
    await agentRow.locator('[data-status=invited]').waitFor();
    assert.equal(await agentRow.getByLabel(`Role of ${agentEmail}`).inputValue(), 'agent');
    await screenshot(admin, 'users');

    const agent = await newPage();
    await agent.goto(url);
    await agent.getByLabel('New password').fill(PASSWORD);
    await agent.getByLabel('Repeat the password').fill(PASSWORD);
    await agent.getByRole('button', { name: 'Set password and sign in' }).click();
    await agent.locator('table.leads tbody tr').nth(4).waitFor();
    assert.match((await agent.locator('header .who').textContent()) ?? '', /\(Agent\)/);
    assert.deepEqual(await navLinks(agent), ['Leads', 'Jobs', 'Calls', 'Broadcasts', 'Receipts']);
    assert.equal(await agent.locator('section.bulk, button[class*="bulk-"], input[type=checkbox], form.import').count(), 0, 'no selection, bulk action or import');

    await agent.getByRole('link', { name: 'Jobs' }).click();
    await agent.locator('table.jobs tr[data-job-id]').first().waitFor();
    assert.equal(await agent.locator('table.jobs button').count(), 0, 'no pause, resume or cancel');

    for (const [hash, title] of [['#/users', 'Users'], ['#/tokens', 'API tokens'], ['#/audit', 'Audit'], ['#/trash', 'Trash'], ['#/settings', 'Settings']] as const) {
      await agent.evaluate((h) => (location.hash = h), hash);
      await agent.locator('h1', { hasText: title }).waitFor();
      await agent.getByRole('alert').filter({ hasText: 'for admins and owners' }).waitFor();
      assert.equal(await agent.locator('main button, main input').count(), 0, `${hash}: nothing to click`);
    }

    // Hidden is not the protection: the same requests from the agent's session are refused.
    assert.deepEqual(await fetchAsPage(agent, 'POST', '/leads/bulk-delete', { lead_ids: [leads[0]?.id] }), [403, 'forbidden']);
    assert.deepEqual(await fetchAsPage(agent, 'GET', '/users'), [403, 'forbidden']);
    assert.deepEqual(await fetchAsPage(agent, 'POST', '/tokens', { name: 'x' }), [403, 'forbidden']);
    assert.deepEqual(await fetchAsPage(agent, 'GET', '/audit'), [403, 'forbidden']);
    assert.deepEqual(await fetchAsPage(agent, 'GET', '/trash/leads'), [403, 'forbidden']);
    assert.deepEqual(await fetchAsPage(agent, 'PATCH', '/business', { timezone: 'UTC' }), [403, 'forbidden']);
    assert.deepEqual(await fetchAsPage(agent, 'PUT', '/channels/voice', { caller_ids: [] }), [403, 'forbidden']);
    await screenshot(agent, 'leads-agent');

    // The owner sees the agent active now, and makes them an admin: the agent's menu grows.
    await admin.reload();
    await agentRow.locator('[data-status=active]').waitFor();
    await agentRow.getByLabel(`Role of ${agentEmail}`).selectOption('admin');
    await admin.getByRole('status').filter({ hasText: `${agentEmail} is now Admin.` }).waitFor();
    await agent.reload();
    await agent.locator('header nav a', { hasText: 'Trash' }).waitFor();

    // Disabled: the agent's next request is refused and the page says the session has ended.
    await agentRow.getByRole('button', { name: `Disable ${agentEmail}` }).click();
    await admin.getByRole('button', { name: 'Confirm' }).click();
    await agentRow.locator('[data-status=disabled]').waitFor();
    await agent.getByRole('link', { name: 'Leads' }).click();
    await agent.getByRole('alert').filter({ hasText: 'Your session has ended.' }).waitFor();
    await agentRow.getByRole('button', { name: `Enable ${agentEmail}` }).click();
    await agentRow.locator('[data-status=active]').waitFor();
  });

  test('the last owner cannot be demoted: the refusal is shown and the role stays', async () => {
    const owner = await ownerWithPassword();
    const page = await newPage();
    await signIn(page, owner.email, PASSWORD, '#/users');
    const row = page.locator(`table.users tr[data-email="${owner.email}"]`);
    await row.waitFor();
    assert.equal(await row.locator('.actions button').count(), 0, 'one cannot disable oneself from here');
    await row.getByLabel(`Role of ${owner.email}`).selectOption('agent');
    await page.getByRole('alert').filter({ hasText: 'at least one enabled owner' }).waitFor();
    assert.equal(await row.getByLabel(`Role of ${owner.email}`).inputValue(), 'owner');
  });

  test('API tokens: created and shown once, listed without the secret, revoked', async () => {
    const owner = await ownerWithPassword();
    const page = await newPage();
    await signIn(page, owner.email, PASSWORD, '#/tokens');
    await page.locator('h1', { hasText: 'API tokens' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('nightly export');
    await page.getByLabel('Role', { exact: true }).selectOption('agent');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = page.getByRole('textbox', { name: 'New token' });
    await secret.waitFor();
    const token = await secret.inputValue();
    assert.ok(token.length >= 20, 'the token itself is shown');
    const me = await api('GET', '/me', { authorization: `Bearer ${token}` });
    assert.equal(me.status, 200);
    assert.equal((me.json.user as { role: string }).role, 'agent');

    const row = page.locator('table.tokens tr', { hasText: 'nightly export' });
    await row.waitFor();
    assert.ok(!((await page.locator('table.tokens').textContent()) ?? '').includes(token), 'the list never shows the secret');
    assert.equal(await row.locator('[data-role]').textContent(), 'Agent');
    await screenshot(page, 'tokens');
    await row.getByRole('button', { name: 'Revoke token nightly export' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('status').filter({ hasText: 'Token “nightly export” revoked.' }).waitFor();
    await waitFor(async () => (await page.locator('table.tokens tr', { hasText: 'nightly export' }).count()) === 0, 'the row to go');
    assert.equal((await api('GET', '/me', { authorization: `Bearer ${token}` })).status, 401);
  });

  test('the audit log shows what was done, filters by action, and loads more', async () => {
    const owner = await ownerWithPassword();
    // 55 entries beyond the sign-ins: more than one page of 50.
    for (let i = 0; i < 55; i++) assert.equal((await api('POST', '/tokens', owner.headers, { name: `script ${i}` })).status, 201);
    const page = await newPage();
    await leadsOf(owner, 10);
    await signIn(page, owner.email, PASSWORD, '#/leads');
    await page.locator('table.leads tbody tr').nth(9).waitFor();
    await page.getByLabel('Select all leads on this page').check();
    await page.locator('button.bulk-delete').click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.locator('.started tr[data-job-id]').waitFor();

    await page.getByRole('link', { name: 'Audit' }).click();
    const rows = page.locator('table.audit tbody tr');
    await rows.first().waitFor();
    const first = rows.first();
    assert.equal(await first.getAttribute('data-action'), 'job.accepted', 'newest first: the bulk delete');
    assert.match((await first.textContent()) ?? '', /delete_leads_bulk/);
    assert.match((await first.textContent()) ?? '', new RegExp(owner.email.replace(/[.+]/g, '\\$&')));
    assert.ok(await page.locator('table.audit tr[data-action="auth.login"]').count() >= 1, 'the sign-in is there');
    await screenshot(page, 'audit');

    assert.equal(await rows.count(), 50);
    await page.getByRole('button', { name: 'Load more' }).click();
    await waitFor(async () => (await rows.count()) > 50, 'the next page');

    await page.getByLabel('Action').selectOption('token.create');
    await page.getByRole('button', { name: 'Apply' }).click();
    await waitFor(async () => (await rows.count()) === 50 && (await page.locator('table.audit tr[data-action]:not([data-action="token.create"])').count()) === 0, 'only token.create');
    await page.getByRole('button', { name: 'Load more' }).click();
    await waitFor(async () => (await rows.count()) === 55, 'all 55 token.create entries');
    assert.ok(await page.getByRole('button', { name: 'Load more' }).isHidden(), 'no more to load');
  });

  test('trash: each bulk delete with its leads, and Restore starts a job that puts them back (a lead whose phone was taken meanwhile says so)', async () => {
    const owner = await ownerWithPassword();
    const leads = await leadsOf(owner, 30);
    const del = await api('POST', '/leads/bulk-delete', owner.headers, { lead_ids: leads.map((l) => l.id) });
    assert.equal(del.status, 202, JSON.stringify(del.json));
    const deleteJob = Number(del.json.job_id);
    await waitForJob(env, deleteJob, 'completed');
    const [taken] = leads;
    assert.ok(taken);
    const newcomer = await api('POST', '/leads', owner.headers, { phone: taken.phone, name: 'Newcomer' });
    assert.equal(newcomer.status, 201, JSON.stringify(newcomer.json));

    const page = await newPage();
    await signIn(page, owner.email, PASSWORD, '#/trash');
    const card = page.locator(`.trash-job[data-job-id="${deleteJob}"]`);
    await card.locator('.trash-count[data-count="30"]').waitFor();
    assert.match((await card.textContent()) ?? '', /30 leads deleted/);
    await card.getByText('Show the leads').click();
    await card.locator('table.trash-leads tbody tr').nth(29).waitFor();

    await card.getByRole('button', { name: `Restore the leads of job #${deleteJob}` }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    const started = card.getByRole('status').filter({ hasText: 'Restore started' });
    await started.waitFor();
    const restoreJob = Number(/job #(\d+)/.exec((await started.textContent()) ?? '')?.[1]);
    assert.ok(restoreJob > deleteJob);
    const { rows } = await env.pool.query<{ type: string }>('SELECT type FROM jobs WHERE id = $1', [restoreJob]);
    assert.equal(rows[0]?.type, 'restore_leads');
    await card.locator(`tr[data-job-id="${restoreJob}"] [data-status=completed]`).waitFor({ timeout: 30_000 });
    const failure = card.locator(`.restore-failures li[data-lead-id="${taken.id}"]`);
    await failure.waitFor();
    assert.equal(await failure.textContent(), `Lead #${taken.id}: its phone now belongs to lead #${Number(newcomer.json.id)}, so it stays in the trash.`);
    await card.locator('.trash-count[data-count="1"]').waitFor();
    assert.equal(await card.locator('.trash-count').textContent(), '1 lead in the trash');
    await screenshot(page, 'trash');
    const { rows: back } = await env.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM leads WHERE business_id = $1', [owner.businessId]);
    assert.equal(back[0]?.n, 30, '29 restored beside the newcomer');

    await card.getByRole('link', { name: `Open job #${restoreJob}` }).click();
    await page.locator(`.focus-job tr[data-job-id="${restoreJob}"] [data-status=completed]`).waitFor();
  });

  test('Hebrew: the sign-in and people pages read right to left', async () => {
    const owner = await ownerWithPassword();
    const page = await newPage();
    await page.goto(`${env.baseUrl}/`);
    await page.getByLabel('Language').selectOption('he');
    await page.locator('h1', { hasText: 'כניסה' }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dir), 'rtl');
    await page.getByLabel('דוא״ל').fill(owner.email);
    await page.getByLabel('סיסמה').fill('not the password');
    await page.getByRole('button', { name: 'כניסה', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'הדוא״ל או הסיסמה שגויים.' }).waitFor();
    await page.getByLabel('סיסמה').fill(PASSWORD);
    await page.getByRole('button', { name: 'כניסה', exact: true }).click();
    await page.locator('header nav a', { hasText: 'סל מחזור' }).waitFor();
    await page.getByRole('link', { name: 'משתמשים' }).click();
    await page.locator('h1', { hasText: 'משתמשים' }).waitFor();
    await page.locator(`table.users tr[data-email="${owner.email}"]`).waitFor();
    assert.equal(await page.getByLabel(`ההרשאה של ${owner.email}`).inputValue(), 'owner');
    await screenshot(page, 'users-he');
  });

  test('no page threw an uncaught exception during these tests', () => {
    assert.deepEqual(chromium.pageErrors, []);
  });
});
