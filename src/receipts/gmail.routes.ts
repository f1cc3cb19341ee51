import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Accepted, errorResponses, GmailConnection, GmailConnectStarted } from '../contract/index.js';
import { idempotencyOf, sendAccepted } from '../http/accepted.js';
import { caller } from '../http/auth.js';
import { markLanguage } from '../http/locale.js';
import { need } from '../http/roles.js';
import { IdempotencyHeaders, IdParam, NoContent, nonJsonResponse } from '../http/schemas.js';
import { NotFoundError } from '../lib/errors.js';
import { actorOf } from '../people/actor.js';
import { getConnection } from './gmail.repo.js';
import { acceptSync, connectionView, disconnect, finishConnect, startConnect, type GmailDeps } from './gmail.service.js';
import { getAttachment, receiptExists } from './receipts.repo.js';

/** The browser nonce of a consent started from the dashboard, sent back only to the callback. */
const NONCE_COOKIE = 'bh_gmail_oauth';
const CALLBACK_PATH = '/oauth/google/callback';

const SyncBody = z.strictObject({
  full: z.boolean().optional().describe('an explicit full resync of the last 12 months: also brings back receipts "delete all" removed'),
});

/** Tenant routes (/api/v1): connect, status, disconnect, sync now, a receipt's PDF. */
export const gmailRoutes = (deps: GmailDeps & { secureCookies: boolean }): FastifyPluginAsyncZod => async (app) => {
  app.post('/integrations/gmail/connect', {
    config: need('admin'),
    schema: {
      tags: ['receipts'],
      summary: 'Start connecting the business\'s Gmail mailbox (read-only): open auth_url in a browser',
      response: { 200: GmailConnectStarted, ...errorResponses },
    },
  }, async (request, reply) => {
    const who = caller(request);
    const started = await startConnect(deps, who, who.via === 'session');
    if (started.browserNonce !== null) {
      reply.setCookie(NONCE_COOKIE, started.browserNonce, { path: CALLBACK_PATH, httpOnly: true, sameSite: 'lax', secure: deps.secureCookies, maxAge: 600 });
    }
    return { auth_url: started.authUrl };
  });

  app.get('/integrations/gmail', {
    config: need('agent'),
    schema: { tags: ['receipts'], summary: 'The business\'s Gmail connection', response: { 200: GmailConnection, ...errorResponses } },
  }, async (request, reply) => {
    markLanguage(reply, request.locale);
    return connectionView(await getConnection(deps.pool, caller(request).businessId), request.locale);
  });

  app.delete('/integrations/gmail', {
    config: need('admin'),
    schema: { tags: ['receipts'], summary: 'Disconnect Gmail: the grant is revoked at Google and the token deleted', response: { 204: NoContent, ...errorResponses } },
  }, async (request, reply) => {
    const who = caller(request);
    await disconnect(deps, who, actorOf(who));
    return reply.status(204).send();
  });

  app.post('/receipts/sync', {
    config: need('admin'),
    schema: {
      tags: ['receipts'],
      summary: 'Sync receipts from the connected Gmail mailbox now (sync_gmail_receipts job)',
      headers: IdempotencyHeaders,
      body: SyncBody.nullish(),
      response: { 202: Accepted, ...errorResponses },
    },
  }, async (request, reply) => {
    const full = request.body?.full ?? false;
    const stored = await acceptSync(deps, caller(request), full, idempotencyOf(request, { full }));
    return sendAccepted(reply, stored);
  });

  app.get('/receipts/:id/attachment', {
    config: need('agent'),
    schema: {
      tags: ['receipts'],
      summary: 'The PDF the receipt\'s mail carried',
      params: IdParam,
      response: { 200: nonJsonResponse('application/pdf', 'the PDF'), ...errorResponses },
    },
  }, async (request, reply) => {
    const { businessId } = caller(request);
    const file = await getAttachment(deps.pool, businessId, request.params.id);
    if (!file) {
      throw new NotFoundError(await receiptExists(deps.pool, businessId, request.params.id) ? 'A PDF of this receipt' : 'Receipt');
    }
    return reply
      .type(file.content_type)
      .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(file.filename)}`)
      .header('cache-control', 'private, max-age=300')
      .send(file.bytes);
  });
};

const DASHBOARD_RECEIPTS = '/#/receipts?gmail=connected';

/** The page the callback answers: it says what happened, in the reader's language, and goes on to the dashboard. */
function connectedPage(locale: 'he' | 'en'): string {
  const [lang, dir, title, back] = locale === 'he'
    ? ['he', 'rtl', 'Gmail חובר: הקבלות יסונכרנו מתיבת הדואר.', 'חזרה לקבלות']
    : ['en', 'ltr', 'Gmail is connected: receipts will be synced from the mailbox.', 'Back to receipts'];
  return `<!doctype html><html lang="${lang}" dir="${dir}"><head><meta charset="utf-8"><meta http-equiv="refresh" content="1; url=${DASHBOARD_RECEIPTS}">`
    + `<title>Bulkhead</title></head><body><p>${title}</p><p><a href="${DASHBOARD_RECEIPTS}">${back}</a></p></body></html>`;
}

const CallbackQuery = z.looseObject({
  code: z.string().min(1).max(2048).optional(),
  state: z.string().min(1).max(200).optional(),
  error: z.string().min(1).max(200).optional(),
});

/**
 * Where Google sends the browser after the consent (public: the state is the credential). A
 * state that is unknown, used, expired, or from another browser is refused (403) and changes
 * nothing; a good one connects the mailbox and answers a page that goes on to the dashboard's
 * receipts (a page rather than a bare redirect: it says what happened, in the reader's language).
 */
export const gmailPages = (deps: GmailDeps): FastifyPluginAsyncZod => async (app) => {
  app.get(CALLBACK_PATH, {
    schema: {
      tags: ['receipts'],
      summary: 'Google\'s OAuth callback (the browser arrives here after the consent)',
      querystring: CallbackQuery,
      response: { 200: nonJsonResponse('text/html', 'a page that says the mailbox is connected and goes on to the dashboard\'s receipts'), ...errorResponses },
    },
  }, async (request, reply) => {
    const q = request.query;
    await finishConnect(deps, { code: q.code, state: q.state, error: q.error }, request.cookies[NONCE_COOKIE], request.ip);
    reply.clearCookie(NONCE_COOKIE, { path: CALLBACK_PATH });
    markLanguage(reply, request.locale);
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(connectedPage(request.locale));
  });
};
