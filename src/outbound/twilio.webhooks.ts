import { parse as parseForm, type ParsedUrlQuery } from 'node:querystring';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import twilio from 'twilio';
import { z } from 'zod';
import { errorResponses } from '../contract/index.js';
import { errorBody, invalidRequest } from '../http/errors.js';
import { NoContent } from '../http/schemas.js';
import type { Logger } from '../lib/logger.js';
import { isProviderCallStatus } from '../providers/telephony/types.js';
import { applyProviderState } from './call-state.js';
import { getCall, setRecording } from './calls.repo.js';

export interface TwilioWebhookDeps {
  pool: pg.Pool;
  authToken: string;
  log: Logger;
  publicBaseUrl(): string;
}

/** Our ids in the callback URL (signed with it): the business and our call id. */
const CallbackQuery = z.object({
  b: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  call_id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});

const FORM_LIMIT = 64 * 1024;

function field(form: ParsedUrlQuery, name: string): string | undefined {
  const v = form[name];
  return Array.isArray(v) ? v[0] : v;
}

function intField(form: ParsedUrlQuery, name: string): number | null {
  const n = Number(field(form, name));
  return field(form, name) !== undefined && Number.isFinite(n) ? Math.round(n) : null;
}

/**
 * What Twilio sends in the fields we store. A signed callback is trusted, not assumed well-formed:
 * a NUL, a duration beyond int4 or an oversized value was a 500 from PostgreSQL.
 */
const FORM_RULES: Record<string, { re: RegExp; what: string }> = {
  CallSid: { re: /^CA[0-9a-fA-F]{32}$/, what: 'a call sid (CA + 32 hex digits)' },
  CallDuration: { re: /^[0-9]{1,9}$/, what: 'a whole number of seconds' },
  RecordingSid: { re: /^RE[0-9a-fA-F]{32}$/, what: 'a recording sid (RE + 32 hex digits)' },
  RecordingStatus: { re: /^[a-z-]{1,32}$/, what: 'a recording status' },
  RecordingDuration: { re: /^-?[0-9]{1,9}$/, what: 'a whole number of seconds' },
};

function badFields(form: ParsedUrlQuery): Array<{ path: string; message: string }> {
  return Object.entries(FORM_RULES).flatMap(([name, rule]) => {
    const v = form[name];
    if (v === undefined) return [];
    const ok = typeof v === 'string' && (v === '' || rule.re.test(v));
    return ok ? [] : [{ path: `body.${name}`, message: `must be ${rule.what}` }];
  });
}

/**
 * Twilio's status and recording callbacks. Verified first — X-Twilio-Signature over
 * PUBLIC_BASE_URL + the path and query as received, plus the form params (the SDK's
 * validateRequest) — so a forged or unsigned request gets 403 and changes nothing. Matched by
 * our own call id from the URL, never by the sid alone: a "completed" that overtakes the
 * create-call response finds its call. Answered in one short transaction; duplicates and late
 * callbacks are no-ops (call-state.ts).
 */
export const twilioWebhooks = (deps: TwilioWebhookDeps): FastifyPluginAsyncZod => async (app) => {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_req, body, done) => {
    done(null, parseForm(typeof body === 'string' ? body : body.toString('utf8')));
  });

  app.addHook('preValidation', async (request, reply) => {
    const signature = request.headers['x-twilio-signature'];
    const form = (request.body ?? {}) as ParsedUrlQuery;
    const url = deps.publicBaseUrl() + request.url;
    if (typeof signature !== 'string' || !twilio.validateRequest(deps.authToken, signature, url, form)) {
      deps.log.warn({ url: request.url }, 'twilio webhook with a bad or missing signature refused');
      return reply.status(403).send(errorBody('forbidden', 'The X-Twilio-Signature header is missing or does not match this request.'));
    }
    const issues = badFields(form);
    if (issues.length > 0) {
      return reply.status(400).send(invalidRequest(`The callback is invalid: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}.`, issues));
    }
  });

  app.post('/twilio/voice/status', {
    schema: {
      tags: ['webhooks'],
      summary: 'Twilio call status callback (signed)',
      querystring: CallbackQuery,
      response: { 204: NoContent, ...errorResponses },
      hide: true,
    },
  }, async (request, reply) => {
    const form = (request.body ?? {}) as ParsedUrlQuery;
    const status = field(form, 'CallStatus');
    if (status && isProviderCallStatus(status)) {
      await applyProviderState(deps.pool, request.query.b, request.query.call_id, {
        status,
        sid: field(form, 'CallSid') ?? null,
        durationS: intField(form, 'CallDuration'),
      });
    }
    return reply.status(204).send();
  });

  app.post('/twilio/voice/recording', {
    schema: {
      tags: ['webhooks'],
      summary: 'Twilio recording status callback (signed)',
      querystring: CallbackQuery,
      response: { 204: NoContent, ...errorResponses },
      hide: true,
    },
  }, async (request, reply) => {
    const form = (request.body ?? {}) as ParsedUrlQuery;
    const { b, call_id } = request.query;
    const call = await getCall(deps.pool, b, call_id);
    const callSid = field(form, 'CallSid');
    const status = field(form, 'RecordingStatus');
    if (call && status && (!call.call_sid || !callSid || call.call_sid === callSid)) {
      await setRecording(deps.pool, b, call_id, { sid: field(form, 'RecordingSid') ?? null, status, durationS: intField(form, 'RecordingDuration') });
    }
    return reply.status(204).send();
  });
};
