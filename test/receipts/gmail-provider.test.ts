import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gmail, type gmail_v1 } from '@googleapis/gmail';
import { OAuth2Client } from 'google-auth-library';
import {
  consentUrl,
  exchangeCode,
  GmailHistoryExpired,
  GmailUnavailable,
  GoogleGrantError,
  mailboxOf,
  revokeGrant,
  type GoogleSettings,
} from '../../src/providers/google/google.js';
import { GoogleSimulator, SIM_GOOGLE_CLIENT_ID, SIM_GOOGLE_CLIENT_SECRET } from '../../src/providers/google/simulator.js';
import { newReceiptMail, SIM_MAILBOX } from '../../src/providers/google/seed.js';
import { RECEIPT_QUERY } from '../../src/receipts/extract.js';
import { parseGmailMessage, pdfAttachment } from '../../src/receipts/gmail-message.js';

/**
 * Issue 17, the provider: google-auth-library's OAuth2Client and @googleapis/gmail, pointed at
 * the simulator through their own options (endpoints, rootUrl), do consent, code exchange,
 * listing with a query and pages, history, attachments, revocation, and the failures the sync acts on.
 */

let sim: GoogleSimulator;
let settings: GoogleSettings;
const CALLBACK = 'http://127.0.0.1:9/oauth/google/callback';

async function consent(state: string): Promise<URL> {
  const res = await fetch(await consentUrl(settings, state), { redirect: 'manual' });
  assert.equal(res.status, 302);
  return new URL(res.headers.get('location') ?? '');
}

before(async () => {
  sim = new GoogleSimulator();
  await sim.start();
  settings = { clientId: SIM_GOOGLE_CLIENT_ID, clientSecret: SIM_GOOGLE_CLIENT_SECRET, redirectUri: CALLBACK, endpoints: sim.endpoints, gmailRootUrl: `${sim.url}/` };
});
after(() => sim.stop());

describe('Google through the official clients, against the simulator', () => {
  test('the consent URL asks for read-only Gmail, offline, with consent, and comes back with code and state', async () => {
    const url = new URL(await consentUrl(settings, 'st-1'));
    assert.equal(url.searchParams.get('access_type'), 'offline');
    assert.equal(url.searchParams.get('prompt'), 'consent');
    assert.equal(url.searchParams.get('scope'), 'https://www.googleapis.com/auth/gmail.readonly');
    assert.equal(url.searchParams.get('redirect_uri'), CALLBACK);
    const back = await consent('st-1');
    assert.equal(`${back.origin}${back.pathname}`, CALLBACK);
    assert.equal(back.searchParams.get('state'), 'st-1');
    assert.ok(back.searchParams.get('code'));
  });

  test('code → refresh token and mailbox; list by query in pages; get; attachment; history; revoke', async () => {
    const code = (await consent('s')).searchParams.get('code') ?? '';
    const granted = await exchangeCode(settings, code);
    assert.equal(granted.email, SIM_MAILBOX);
    assert.match(granted.refreshToken, /^1\/\//);
    await assert.rejects(exchangeCode(settings, code), GoogleGrantError, 'a code works once');

    const box = mailboxOf(settings, granted.refreshToken);
    const ids: string[] = [];
    let pages = 0;
    for (let token: string | null = null; ;) {
      const page = await box.list(RECEIPT_QUERY, token, 3);
      ids.push(...page.ids);
      pages += 1;
      token = page.nextPageToken;
      if (!token) break;
    }
    assert.equal(ids.length, new Set(ids).size);
    assert.equal(ids.length, 8, 'the seeded receipts, the invoice article and the ambiguous one; not the old receipt, not personal mail');
    assert.equal(pages, 3);

    const mails = await Promise.all(ids.map(async (id) => parseGmailMessage((await box.get(id)) ?? {})));
    const withPdf = mails.filter((m) => pdfAttachment(m) !== null);
    assert.equal(withPdf.length, 3);
    const first = withPdf[0];
    const att = first ? pdfAttachment(first) : null;
    assert.ok(first && att?.attachmentId);
    const pdf = await box.attachment(first.id, att.attachmentId);
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    assert.equal(await box.get('ffffffffffffffff'), null);

    // format=raw (the sync reads full; raw is the whole RFC 822 message, for a client that wants it).
    const auth = new OAuth2Client({ clientId: settings.clientId, clientSecret: settings.clientSecret, endpoints: sim.endpoints });
    auth.setCredentials({ refresh_token: granted.refreshToken });
    const raw = await gmail({ version: 'v1', auth: auth as unknown as gmail_v1.Options['auth'], rootUrl: `${sim.url}/` }).users.messages.get({ userId: 'me', id: first.id, format: 'raw' });
    assert.equal(raw.data.payload, undefined);
    const rfc822 = Buffer.from(raw.data.raw ?? '', 'base64url').toString('utf8');
    assert.match(rfc822, /^Subject: /m);
    assert.match(rfc822, /Content-Type: application\/pdf; name="/);

    const { historyId } = await box.profile();
    assert.deepEqual((await box.history(historyId, null, 100)).ids, []);
    const added = sim.addMessage(newReceiptMail(new Date()));
    const h = await box.history(historyId, null, 100);
    assert.deepEqual(h.ids, [added]);
    assert.ok(Number(h.historyId) > Number(historyId));

    sim.expireHistory();
    await assert.rejects(box.history(historyId, null, 100), GmailHistoryExpired);

    sim.failNext([429, 503]);
    await assert.rejects(box.profile(), (err: unknown) => err instanceof GmailUnavailable && err.status === 429);
    await assert.rejects(box.profile(), (err: unknown) => err instanceof GmailUnavailable && err.status === 503);
    await box.profile();

    await revokeGrant(settings, granted.refreshToken);
    assert.equal(sim.hasLiveGrant(), false);
    await assert.rejects(mailboxOf(settings, granted.refreshToken).profile(), GoogleGrantError, 'a new client must refresh and gets invalid_grant');
    await revokeGrant(settings, granted.refreshToken);
  });

  test('a grant revoked at Google (by the user): invalid_grant', async () => {
    const code = (await consent('s2')).searchParams.get('code') ?? '';
    const granted = await exchangeCode(settings, code);
    sim.revokeGrant();
    const before = sim.counts.token;
    await assert.rejects(mailboxOf(settings, granted.refreshToken).list(RECEIPT_QUERY, null, 10), GoogleGrantError);
    assert.ok(sim.counts.token - before <= 2, `token endpoint asked ${sim.counts.token - before} times`);
  });

  test('a grant is good at another simulator of the same client (bulkhead api and worker apart), over the same seeded mailbox; a forged one is not', async () => {
    const code = (await consent('s3')).searchParams.get('code') ?? '';
    const granted = await exchangeCode(settings, code);
    const second = new GoogleSimulator();
    await second.start();
    try {
      const there: GoogleSettings = { ...settings, endpoints: second.endpoints, gmailRootUrl: `${second.url}/` };
      const page = await mailboxOf(there, granted.refreshToken).list(RECEIPT_QUERY, null, 100);
      assert.deepEqual(page.ids, second.messageIds(RECEIPT_QUERY));
      assert.deepEqual(page.ids, sim.messageIds(RECEIPT_QUERY).filter((id) => page.ids.includes(id)), 'the same ids as the first simulator\'s seeded mail');
      const forged = granted.refreshToken.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
      await assert.rejects(mailboxOf(there, forged).profile(), GoogleGrantError);
      const otherClient = new GoogleSimulator({ clientSecret: 'another-client-secret' });
      await otherClient.start();
      try {
        await assert.rejects(mailboxOf({ ...there, clientSecret: 'another-client-secret', endpoints: otherClient.endpoints, gmailRootUrl: `${otherClient.url}/` }, granted.refreshToken).profile(), GoogleGrantError);
      } finally {
        await otherClient.stop();
      }
    } finally {
      await second.stop();
    }
  });
});
