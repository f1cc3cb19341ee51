/**
 * The dashboard parts of issues 15, 16 and 17 in real Chromium, against an in-process API +
 * worker + simulated Twilio, transcription and Gmail: the Receipts page connects Gmail through
 * the simulator's consent and "Sync now" imports the seeded receipts; the Calls page shows each
 * call's outcome, its transcript beside the player (Hebrew right to left) and finds it by a word;
 * a lead who pressed 9 is on the do-not-call list; the Settings call-flow editor saves a message
 * flow and shows an API issue at its field. Waits are for states, never fixed sleeps.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { Call, DialerSettings, Transcript } from '../../src/contract/index.js';
import { ADMIN_TOKEN, createTenant, waitFor, type Tenant } from '../helpers/harness.js';
import { api, makeLeads, startOutboundEnv, type OutboundEnv } from '../outbound/helpers.js';
import { screenshot, signInWithToken, startWithChromium, type Chromium } from './browser.js';

let env: OutboundEnv;
let chromium: Chromium;

before(async () => {
  ({ env, chromium } = await startWithChromium(startOutboundEnv({
    // Periodic Gmail syncs stay out of the way: the test's own "Sync now" imports the mailbox.
    GMAIL_SYNC_EVERY_MS: '3600000',
    // Calls last long enough for the flow's words to be said (and so recorded and transcribed).
    SIM_CALL_MS: '1000',
  })));
});

after(async () => {
  await chromium?.close();
  await env?.close();
});

async function signedIn(t: Tenant, hash: string): Promise<Page> {
  const page = await chromium.newPage();
  await signInWithToken(page, env.baseUrl, t.token, hash);
  return page;
}

/** Places one direct call to the lead and waits until its transcript is in (completed or failed). */
async function callAndTranscribe(t: Tenant, leadId: number): Promise<{ call: Call; transcript: Transcript }> {
  const res = await api(env, t, 'POST', '/outbound/calls', { lead_ids: [leadId] });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const placed = (res.body.calls as Call[])[0];
  assert.ok(placed);
  const transcript = await waitFor(async () => {
    const sid = (await api(env, t, 'GET', '/calls')).body.items as Call[];
    const call = sid.find((c) => c.id === placed.id);
    if (!call?.call_sid || !call.outcome) return null;
    const tr = (await api(env, t, 'GET', `/calls/${call.call_sid}/transcript`)).body as unknown as Transcript;
    return tr.status === 'completed' || tr.status === 'failed' ? { call, transcript: tr } : null;
  }, `call to lead ${leadId} transcribed`, 20_000);
  return transcript;
}

afterEach(() => chromium?.closePages());

describe('dashboard: receipts, calls, call flow', () => {
  test('Receipts: connect Gmail through the consent, Sync now imports the receipts, delete all counts them', async () => {
    const t = await createTenant(env);
    const page = await signedIn(t, '#/receipts');
    const card = page.locator('.gmail-card');
    await card.locator('.gmail-status').waitFor();
    assert.equal(await card.getAttribute('data-state'), 'disconnected');
    // The card and the list load side by side: wait for the list, not just the card.
    await page.locator('.receipts-list', { hasText: 'No receipts yet' }).waitFor();

    // The simulator's consent approves at once and sends the browser to our callback, which goes on to the Receipts page.
    await card.getByRole('button', { name: 'Connect Gmail' }).click();
    await page.locator('.gmail-card[data-state=connected]').waitFor();
    assert.match(page.url(), /#\/receipts\?gmail=connected$/);
    assert.equal(await card.locator('.gmail-email').textContent(), 'owner@example.co.il');
    await card.getByText('Gmail is connected.').waitFor();

    await card.getByRole('button', { name: 'Sync now' }).click();
    await card.locator('.started [data-status=completed]').waitFor();
    const rows = page.locator('table.receipts tbody tr');
    await page.waitForFunction(() => document.querySelectorAll('table.receipts tbody tr[data-source=gmail]').length === 6);
    const bezeq = rows.filter({ hasText: 'בזק' });
    assert.match((await bezeq.locator('.amount').textContent()) ?? '', /₪\s?1,234\.50/);
    assert.equal(await bezeq.locator('.source').textContent(), 'Gmail');
    const pdf = bezeq.locator('a.attachment');
    assert.match((await pdf.getAttribute('href')) ?? '', /^\/api\/v1\/receipts\/\d+\/attachment$/);
    assert.equal(await rows.locator('a.attachment').count(), 3, 'the three mails with a PDF link it');
    const download = page.waitForEvent('download');
    await pdf.click();
    assert.match((await download).suggestedFilename(), /\.pdf$/i);
    // The card reloads beside the list once the sync ends: wait for it, do not read it at once.
    await card.locator('.gmail-last-sync').filter({ hasNotText: /never/ }).waitFor();
    await screenshot(page, 'receipts');

    await page.getByRole('button', { name: 'Delete all receipts' }).click();
    const dialog = page.locator('dialog[open]');
    assert.equal(await dialog.locator('.confirm-text').textContent(), 'Delete all 6 receipts? This cannot be undone here.');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.locator('.receipts-list', { hasText: 'No receipts yet' }).waitFor();
    const left = await api(env, t, 'GET', '/receipts');
    assert.deepEqual(left.body.items, []);

    // An agent reads the card and the list, without the admin's buttons.
    const res = await env.app.inject({ method: 'POST', url: `/api/v1/admin/businesses/${t.businessId}/users`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { email: `agent-${t.businessId}@example.com` } });
    assert.equal(res.statusCode, 201, res.body);
    const made = res.json() as { user: { id: number }; token: string };
    await env.pool.query(`UPDATE users SET role = 'agent' WHERE id = $1`, [made.user.id]);
    const agent = await signedIn({ ...t, userId: made.user.id, token: made.token, headers: { authorization: `Bearer ${made.token}` } }, '#/receipts');
    await agent.locator('.gmail-card[data-state=connected]').waitFor();
    await agent.locator('.receipts-list[aria-busy=false]').waitFor();
    assert.equal(await agent.locator('.gmail-card button, button.delete-all').count(), 0, 'no connect, sync, disconnect or delete all');
    assert.match((await agent.locator('.gmail-card').textContent()) ?? '', /Admins and owners connect/);
  });

  test('Calls: outcomes, the transcript beside the player (Hebrew right to left), search, the do-not-call list', async () => {
    const t = await createTenant(env);
    const he = await createTenant(env, { locale: 'he' });
    const [lead, quitter] = await makeLeads(env, t, 2);
    const [heLead] = await makeLeads(env, he, 1);
    assert.ok(lead && quitter && heLead);
    const flow = await api(env, t, 'PATCH', '/outbound/settings', { call_flow: { kind: 'message', say: 'Welcome to the zebracorn savings club.', language: 'en-US' } });
    assert.equal(flow.status, 200, JSON.stringify(flow.body));
    env.sim.faults.digitsFor = (to) => (to === quitter.phone ? '9' : undefined);
    const [heard, quit, hebrew] = await Promise.all([callAndTranscribe(t, lead.id), callAndTranscribe(t, quitter.id), callAndTranscribe(he, heLead.id)]);
    env.sim.faults.digitsFor = null;
    assert.equal(heard.transcript.status, 'completed');
    assert.match(heard.transcript.text ?? '', /zebracorn/i, JSON.stringify(heard));
    assert.equal(quit.call.outcome, 'opted_out');

    const page = await signedIn(t, '#/calls');
    const row = page.locator(`table.calls tr[data-call-id="${heard.call.id}"]`);
    await row.waitFor();
    assert.equal(await row.locator('.outcome').getAttribute('data-outcome'), heard.call.outcome);
    assert.equal(await row.locator('.outcome').textContent(), heard.call.outcome === 'message_played' ? 'Message played' : await row.locator('.outcome').textContent());
    // What the API says of the call (AMD's verdict is its own webhook: if the call's end was handled
    // first, the verdict stays unknown), and for a person the page's words.
    assert.equal(await row.locator('.answered-by').getAttribute('data-answered-by'), heard.call.answered_by ?? '');
    if (heard.call.answered_by === 'human') assert.equal(await row.locator('.answered-by').textContent(), 'A person');
    assert.equal(await page.locator(`table.calls tr[data-call-id="${quit.call.id}"] .outcome`).textContent(), 'Opted out (pressed 9)');
    assert.equal(await page.locator(`table.calls tr[data-call-id="${quit.call.id}"] .digits`).textContent(), '9');

    // The do-not-call list shows the number that pressed 9.
    const dnc = page.locator(`table.dnc tr[data-phone="${quitter.phone}"]`);
    await dnc.waitFor();
    assert.equal(await dnc.locator('.reason').textContent(), 'Pressed 9 on a call');

    // Play: the transcript appears beside the player; a segment seeks the audio.
    await row.locator('button.play').click();
    await page.locator('#player-status[data-state=ready]').waitFor();
    const transcript = page.locator(`.transcript[data-call-sid="${heard.call.call_sid}"][data-state=completed]`);
    await transcript.waitFor();
    const segments = transcript.locator('.segments li');
    assert.equal(await segments.count(), heard.transcript.segments.length);
    assert.match((await transcript.textContent()) ?? '', /zebracorn/i);
    const last = heard.transcript.segments.at(-1);
    assert.ok(last);
    await segments.last().locator('button.seek').click();
    await page.waitForFunction((at) => {
      const a = document.querySelector('audio');
      return a !== null && a.currentTime >= at - 0.05;
    }, last.start_s);
    await screenshot(page, 'calls-transcript');

    // Search over transcripts: the word finds the call; a word said nowhere finds none.
    await page.getByLabel('Search transcripts').fill('zebracorn');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.locator('.search-summary', { hasText: 'zebracorn' }).waitFor();
    await page.waitForFunction(() => document.querySelector('.calls-list')?.getAttribute('aria-busy') === 'false');
    assert.ok(await page.locator(`table.calls tr[data-call-id="${heard.call.id}"]`).isVisible());
    await page.getByLabel('Search transcripts').fill('xylophoneria');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.locator('.search-summary', { hasText: 'No call’s transcript contains “xylophoneria”' }).waitFor();
    assert.equal(await page.locator('table.calls').count(), 0);

    // A Hebrew business: its transcript reads right to left.
    const hePage = await signedIn(he, '#/calls');
    const heRow = hePage.locator(`table.calls tr[data-call-id="${hebrew.call.id}"]`);
    await heRow.locator('button.play').click();
    const heTranscript = hePage.locator('.transcript[data-state=completed] .segments');
    await heTranscript.waitFor();
    assert.equal(await heTranscript.getAttribute('dir'), 'rtl');
    assert.match((await heTranscript.textContent()) ?? '', /[\u05d0-\u05ea]/);
    assert.equal(await heRow.locator('.answered-by').textContent(), 'אדם');
  });

  test('Settings: the call-flow editor shows an API issue at its field, then saves a message flow', async () => {
    const t = await createTenant(env);
    const page = await signedIn(t, '#/settings');
    const section = page.locator('section.settings-flow');
    await section.waitFor();
    const useDefault = section.getByLabel(/Use the default flow/);
    assert.ok(await useDefault.isChecked());
    await useDefault.uncheck();
    await section.getByLabel('When the lead answers').selectOption('message');
    await section.getByLabel('Text to say').fill('Hello from the flow editor.');
    await section.getByLabel('Or an audio file to play (URL)').fill('not a url');
    await section.getByLabel('Language of the message').selectOption('en-US');
    await section.getByLabel('Answering machine or voicemail').selectOption('voicemail');
    await section.getByLabel('Voicemail text').fill('Please call us back.');
    await section.getByRole('button', { name: 'Save' }).click();
    const issue = section.locator('input[name="call_flow.play_url"][aria-invalid=true]');
    await issue.waitFor();
    assert.equal(await section.locator('.field-issue').count(), 1);
    assert.equal(((await api(env, t, 'GET', '/outbound/settings')).body as unknown as DialerSettings).call_flow_default, true, 'nothing was saved');

    await section.getByLabel('Or an audio file to play (URL)').fill('');
    await section.getByRole('button', { name: 'Save' }).click();
    await section.locator('.saved', { hasText: 'Saved.' }).waitFor();
    const saved = (await api(env, t, 'GET', '/outbound/settings')).body as unknown as DialerSettings;
    assert.equal(saved.call_flow_default, false);
    assert.deepEqual(saved.call_flow, { kind: 'message', say: 'Hello from the flow editor.', language: 'en-US', on_machine: { voicemail: { say: 'Please call us back.' } } });
    await screenshot(page, 'settings-call-flow');

    // Reloaded, the editor shows what was saved.
    await page.reload();
    await section.getByLabel('Text to say').waitFor();
    assert.equal(await section.getByLabel('Text to say').inputValue(), 'Hello from the flow editor.');
    assert.equal(await section.getByLabel('Answering machine or voicemail').inputValue(), 'voicemail');
  });

  test('no page threw an uncaught exception during these tests', () => {
    assert.deepEqual(chromium.pageErrors, []);
  });
});
