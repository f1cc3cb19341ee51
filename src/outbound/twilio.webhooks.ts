import { createHash, timingSafeEqual } from 'node:crypto';
import { parse as parseForm, type ParsedUrlQuery } from 'node:querystring';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { validateRequest } from 'twilio/lib/webhooks/webhooks.js';
import { z } from 'zod';
import { errorResponses } from '../contract/index.js';
import { NoContent } from '../http/schemas.js';
import { AppError, ValidationError, type Issue } from '../lib/errors.js';
import { msg, zodMessage, type Message } from '../lib/messages.js';
import type { Logger } from '../lib/logger.js';
import { isProviderCallStatus, type TelephonyProvider } from '../providers/telephony/types.js';
import { applyProviderState } from './call-state.js';
import { getCall, setRecordingOfCall } from './calls.repo.js';
import { voiceWebhooks } from './voice.webhooks.js';
import { transcribeAfterRecording } from '../transcripts/transcripts.service.js';

export interface TwilioWebhookDeps {
  pool: pg.Pool;
  /** The deployment's auth token: verifies the callbacks of calls placed through its account. */
  authToken: string;
  /**
   * The auth token of the account a business's call was placed through (its own subaccount),
   * null when that account is no longer the business's. Absent: every call is the deployment's.
   */
  authTokenFor?: (businessId: number, accountSid: string) => Promise<string | null>;
  /** The account whose calls these are: a callback's AccountSid must be this one. */
  accountSid: string;
  log: Logger;
  publicBaseUrl(): string;
  /** The provider of the account a call went through (the call flow's AMD acts on the live call); absent: no call flow webhooks. */
  providerFor?: (businessId: number, accountSid: string | null) => Promise<TelephonyProvider>;
}

/**
 * Our ids in the callback URL (signed with it): the business, our call id and the call's callback
 * token (place-call.ts). `t` is absent only from URLs handed out before 006_webhook_binding.sql.
 */
const CallbackQuery = z.object({
  b: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  call_id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  t: z.string().regex(/^[0-9a-f]{32}$/, zodMessage(msg('issue.callback_token'))).optional(),
});
type CallbackQuery = z.infer<typeof CallbackQuery>;

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
 * What Twilio sends in the fields we store or match on. A signed callback is trusted, not assumed
 * well-formed: a NUL, a duration beyond int4 or an oversized value was a 500 from PostgreSQL.
 */
const FORM_RULES: Record<string, { re: RegExp; issue: Message }> = {
  AccountSid: { re: /^AC[0-9a-fA-F]{32}$/, issue: msg('issue.account_sid') },
  CallSid: { re: /^CA[0-9a-fA-F]{32}$/, issue: msg('issue.call_sid') },
  CallDuration: { re: /^[0-9]{1,9}$/, issue: msg('issue.whole_seconds') },
  RecordingSid: { re: /^RE[0-9a-fA-F]{32}$/, issue: msg('issue.recording_sid') },
  RecordingStatus: { re: /^[a-z-]{1,32}$/, issue: msg('issue.recording_status') },
  RecordingDuration: { re: /^-?[0-9]{1,9}$/, issue: msg('issue.whole_seconds') },
};

/** Every status and recording callback of Twilio carries both; they bind it to one call of our account. */
const REQUIRED = ['AccountSid', 'CallSid'] as const;

/**
 * The shape of a Twilio parameter name: PascalCase letters and digits (AccountSid, CallStatus,
 * SequenceNumber, RecordingStartTime, StirVerstat …: the names Twilio's voice webhooks reference
 * gives for status and recording callbacks all have it). Why a shape and not a list of names:
 * Twilio adds parameters over time, and a callback refused for a new one is lost (status callbacks
 * are not retried), so every call would hang until the sweeper asked the provider. The shape is
 * what the re-cut attack needs broken: Twilio signs URL + key + value + key + value … with no
 * separators, so moving characters across a boundary (the URL's trailing digits into the first
 * key, "7AccountSid"; a value's tail into the next key) makes a key that starts with a digit or
 * a lowercase letter or a symbol — refused here. Repeated keys are refused too (Twilio never
 * repeats one, and the signature of a repeated key sorts its values, another degree of freedom).
 */
const TWILIO_KEY = /^[A-Z][A-Za-z0-9]{0,63}$/;

/** What is wrong with a callback's form (empty when nothing): key shapes, repeated keys, the values we use, the required keys. */
export function callbackFormIssues(form: ParsedUrlQuery): Issue[] {
  const issues: Issue[] = [];
  for (const [name, v] of Object.entries(form)) {
    if (!TWILIO_KEY.test(name)) issues.push({ path: 'body', message: msg('issue.twilio_key', { name: name.slice(0, 64) }) });
    else if (Array.isArray(v)) issues.push({ path: `body.${name}`, message: msg('issue.once') });
  }
  for (const [name, rule] of Object.entries(FORM_RULES)) {
    const v = form[name];
    if (v === undefined || Array.isArray(v)) continue;
    if (v !== '' && !rule.re.test(v)) issues.push({ path: `body.${name}`, message: rule.issue });
  }
  for (const name of REQUIRED) {
    if (!field(form, name)) issues.push({ path: `body.${name}`, message: msg('issue.required') });
  }
  return issues;
}

/** Constant time whatever the inputs: digests of equal length, compared with timingSafeEqual. */
function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** bound: the callback is this call's; forbidden: it is not (403, nothing changes); unknown_call: no such call (nothing to change). */
export type CallbackBinding = 'bound' | 'forbidden' | 'unknown_call';

/**
 * Pure: whether a signed callback whose URL names `call` (and carries `token`, or not) and whose
 * form says `callSid` belongs to that call.
 *
 * The token is what lets a callback bind before we know the sid: the create-call answer (with the
 * sid) can come back AFTER the call's first callbacks — even after its "completed" (DESIGN.md) —
 * so "CallSid must equal the stored sid" alone would drop those. The token is random per call,
 * stored at claim time and signed inside the URL, so only the callbacks Twilio sends for this very
 * call carry it; while the call has no sid it takes the callback's (call-state.ts records the
 * first sid only, atomically), and once it has one a callback with another sid is refused. A URL
 * without a token (handed out before 006) binds only by the stored sid: a callback arriving
 * before the sid is stored is refused, and the sweeper reconciles that call from the provider.
 */
export function bindCallback(
  call: { call_sid: string | null; callback_token: string | null } | null,
  token: string | undefined,
  callSid: string,
): CallbackBinding {
  if (!call) return 'unknown_call';
  if (token !== undefined) {
    if (call.callback_token === null || !sameSecret(token, call.callback_token)) return 'forbidden';
    return call.call_sid === null || call.call_sid === callSid ? 'bound' : 'forbidden';
  }
  return call.call_sid !== null && call.call_sid === callSid ? 'bound' : 'forbidden';
}

const notThisCall = () => new AppError(403, 'forbidden', msg('webhooks.twilio_not_this_call'));

/**
 * Twilio's status and recording callbacks. Verified first — X-Twilio-Signature over
 * PUBLIC_BASE_URL + the path and query as received, plus the form params (the SDK's
 * validateRequest), keyed by the auth token of the account the call was placed through (a
 * business's own subaccount, or the deployment's) — so a forged or unsigned request, or one
 * signed by another business's account, gets 403 and changes nothing. Then bound to exactly one
 * call (README "Webhook security"): parameter names of Twilio's shape, AccountSid of that
 * account, CallSid present, and the call named by the URL matched by its callback token and
 * its stored sid (bindCallback). Matched by our own call id from the URL, never by the sid alone:
 * a "completed" that overtakes the create-call response finds its call. Answered in one short
 * transaction; duplicates and late callbacks are no-ops (call-state.ts).
 */
export const twilioWebhooks = (deps: TwilioWebhookDeps): FastifyPluginAsyncZod => async (app) => {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_req, body, done) => {
    done(null, parseForm(typeof body === 'string' ? body : body.toString('utf8')));
  });

  /**
   * The account a callback must come from, and its auth token: that of the call its URL names
   * (calls.account_sid: the business's own subaccount, or NULL for the deployment's). A URL that
   * names no call of ours (malformed, unknown) is checked against the deployment's account, as
   * before channels: forged is 403, signed but unknown is 204 below. One primary-key read, before
   * anything is written; the sid read here comes from our own row, never from the request.
   */
  async function expectedAccount(query: unknown): Promise<{ sid: string; token: string | null }> {
    const main = { sid: deps.accountSid, token: deps.authToken };
    const q = CallbackQuery.safeParse(query);
    if (!q.success || !deps.authTokenFor) return main;
    const { rows } = await deps.pool.query<{ account_sid: string | null }>({
      name: 'bulkhead_callback_account',
      text: `SELECT account_sid FROM calls WHERE business_id = $1 AND id = $2`,
      values: [q.data.b, q.data.call_id],
    });
    const sid = rows[0]?.account_sid ?? null;
    if (sid === null || sid === deps.accountSid) return main;
    return { sid, token: await deps.authTokenFor(q.data.b, sid) };
  }

  app.addHook('preValidation', async (request) => {
    const signature = request.headers['x-twilio-signature'];
    const form = (request.body ?? {}) as ParsedUrlQuery;
    const url = deps.publicBaseUrl() + request.url;
    const account = await expectedAccount(request.query);
    if (typeof signature !== 'string' || account.token === null || !validateRequest(account.token, signature, url, form)) {
      deps.log.warn({ url: request.url }, 'twilio webhook with a bad or missing signature refused');
      throw new AppError(403, 'forbidden', msg('webhooks.twilio_signature'));
    }
    const issues = callbackFormIssues(form);
    if (issues.length > 0) {
      throw new ValidationError(msg('webhooks.twilio_invalid', { issues }), issues.slice(0, 20));
    }
    if (field(form, 'AccountSid') !== account.sid) {
      deps.log.warn({ url: request.url }, 'twilio webhook of another account refused');
      throw notThisCall();
    }
  });

  /**
   * The CallSid of a callback bound to the call its URL names; a 403 (another call's), or null
   * after answering 204 (no such call). One primary-key read per callback: the token is
   * compared here, in constant time, rather than in the UPDATE's WHERE.
   */
  async function boundCall(query: CallbackQuery, form: ParsedUrlQuery, reply: FastifyReply): Promise<string | null> {
    const callSid = field(form, 'CallSid') ?? '';
    const binding = bindCallback(await getCall(deps.pool, query.b, query.call_id), query.t, callSid);
    if (binding === 'bound') return callSid;
    if (binding === 'forbidden') {
      deps.log.warn({ businessId: query.b, callId: query.call_id, token: query.t !== undefined }, 'twilio callback not bound to the call its URL names refused');
      throw notThisCall();
    } else {
      await reply.status(204).send();
    }
    return null;
  }

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
    const callSid = await boundCall(request.query, form, reply);
    if (callSid === null) return reply;
    const status = field(form, 'CallStatus');
    if (status && isProviderCallStatus(status)) {
      await applyProviderState(deps.pool, request.query.b, request.query.call_id, { status, sid: callSid, durationS: intField(form, 'CallDuration') });
    }
    return reply.status(204).send();
  });

  // The call flow's webhooks (answer, gather, amd, dial-status): verified by the hook above.
  if (deps.providerFor) {
    await voiceWebhooks({ pool: deps.pool, log: deps.log, publicBaseUrl: deps.publicBaseUrl, providerFor: deps.providerFor, bind: bindCallback })(app, {});
  }

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
    const callSid = await boundCall(request.query, form, reply);
    if (callSid === null) return reply;
    const status = field(form, 'RecordingStatus');
    if (status) {
      await setRecordingOfCall(deps.pool, request.query.b, request.query.call_id, {
        callSid, sid: field(form, 'RecordingSid') ?? null, status, durationS: intField(form, 'RecordingDuration'),
      });
      // Transcripts (src/transcripts/): every completed recording is queued for transcription.
      if (status === 'completed') await transcribeAfterRecording(deps.pool, request.query.b, request.query.call_id);
    }
    return reply.status(204).send();
  });
};
