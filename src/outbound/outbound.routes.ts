import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import type { AcceptDeps } from '../gate/accept.js';
import { Accepted, ActiveCalls, Call, DialerSettings, DirectCalls, DncNumber, errorResponses, pageOf, RETRY_AFTER, Run, RunItem } from '../contract/index.js';
import { idempotencyOf, sendAccepted } from '../http/accepted.js';
import { caller } from '../http/auth.js';
import { listQuery, paged } from '../http/pagination.js';
import { Id, IdempotencyHeaders, IdParam, LeadIds, NoContent } from '../http/schemas.js';
import { normalizePhone } from '../leads/phone.js';
import { NotFoundError, ValidationError } from '../lib/errors.js';
import { msg, zodMessage } from '../lib/messages.js';
import { PROVIDER_CALL_STATUSES } from '../providers/telephony/types.js';
import { getCallBySid, listActiveCalls, listCalls } from './calls.repo.js';
import type { Dialer } from './dialer.js';
import { placeDirectCalls } from './direct-calls.service.js';
import { addDnc, listDnc, removeDnc } from './dnc.repo.js';
import { callView, dncView, itemView, runView, settingsView } from './outbound.view.js';
import { emptyCounts, getRun, listRunItems, listRuns, runCounts, runCountsOf } from './runs.repo.js';
import { acceptRun } from './runs.service.js';
import { getBusinessFlow, getSettings, setCallFlow, setRetryPerOutcome, upsertSettings, type SettingsDefaults } from './settings.repo.js';
import { CallFlowInput, callFlowIssues, type CallFlow } from './call-flow.js';
import { need } from '../http/roles.js';
import { withTx } from '../db/pool.js';
import { actorOf } from '../people/actor.js';
import { recordAudit } from '../people/audit.repo.js';
import { searchCallsPage, transcriptSearchQuery } from '../transcripts/search.js';

export interface OutboundRouteDeps {
  pool: pg.Pool;
  accept: AcceptDeps;
  dialer: () => Dialer;
  defaults: SettingsDefaults;
  /** Call flows may name plain-http URLs (not in production: https only). */
  allowHttpFlowUrls: boolean;
}

const CallSidParam = z.object({ call_sid: z.string().regex(/^CA[0-9a-fA-F]{32}$/, zodMessage(msg('issue.call_sid'))) });
const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, zodMessage(msg('issue.hhmm')));
const CALL_STATUSES = ['dialing', ...PROVIDER_CALL_STATUSES] as const;
const RETRY_ATTEMPTS = z.number().int().min(0).max(10);
const RETRY_DELAY_S = z.number().int().min(1).max(604_800);

/** One outcome's retry: `delay_s` alone means after a delay; `after: "next_day"` waits for the next opening of the calling hours. */
const OutcomeRetryInput = z.strictObject({
  attempts: RETRY_ATTEMPTS.optional().describe('extra attempts after a call that ended with this outcome (0: never retried)'),
  delay_s: RETRY_DELAY_S.optional().describe('seconds before each retry (implies after "delay")'),
  after: z.enum(RETRY_AFTER).optional().describe('"next_day": at the next opening of the calling hours, e.g. 08:00 tomorrow; "delay": after delay_s (or retry.delay_s)'),
}).superRefine((r, ctx) => {
  if (r.after === 'next_day' && r.delay_s !== undefined) ctx.addIssue({ code: 'custom', path: ['delay_s'], ...zodMessage(msg('issue.retry_delay_with_next_day')) });
});

/**
 * `busy`, `no_answer` and `delay_s` are the policy as it was before per-outcome retries (API.md:
 * extend, never break); `per_outcome.busy.attempts` is the same number as `busy`, so a request
 * giving both must agree. In the schema (not the handler) so that the OpenAPI oracle of
 * test/http/bad-input.test.ts sees the same rule the route applies.
 */
const RetryInput = z.strictObject({
  busy: RETRY_ATTEMPTS.optional(),
  no_answer: RETRY_ATTEMPTS.optional(),
  delay_s: RETRY_DELAY_S.optional(),
  per_outcome: z.strictObject({
    busy: OutcomeRetryInput.optional(),
    no_answer: OutcomeRetryInput.optional(),
    machine: OutcomeRetryInput.optional().describe('answering-machine detection said machine and the call was hung up'),
    voicemail_left: OutcomeRetryInput.optional().describe('a voicemail was left (default: final)'),
  }).optional(),
}).superRefine((r, ctx) => {
  for (const o of ['busy', 'no_answer'] as const) {
    const attempts = r.per_outcome?.[o]?.attempts;
    if (r[o] !== undefined && attempts !== undefined && attempts !== r[o]) {
      ctx.addIssue({ code: 'custom', path: ['per_outcome', o, 'attempts'], ...zodMessage(msg('issue.retry_attempts_differ')) });
    }
  }
});
const DNC_CURSOR = /^\+[0-9]{1,20}$/;

export const outboundRoutes = (deps: OutboundRouteDeps): FastifyPluginAsyncZod => async (app) => {
  const { pool } = deps;

  async function settingsOf(businessId: number) {
    const s = await getSettings(pool, businessId, deps.defaults);
    if (!s) throw new NotFoundError('Business');
    return s;
  }

  async function settingsWithFlow(businessId: number) {
    const s = await settingsOf(businessId);
    const flow = await getBusinessFlow(pool, businessId);
    if (!flow) throw new NotFoundError('Business');
    return settingsView({ ...s, ...flow });
  }

  /** A flow of the right shape that is also right (URLs, numbers, something to say): else 400 naming each problem. */
  function checkFlow(flow: CallFlow | null | undefined, path: string): void {
    if (!flow) return;
    const issues = callFlowIssues(flow, path, { allowHttp: deps.allowHttpFlowUrls });
    if (issues.length > 0) throw new ValidationError(msg('request.invalid', { issues }), issues);
  }

  app.post('/outbound/runs', {
    config: need('admin'),
    schema: {
      tags: ['outbound'],
      summary: 'Call a list of leads (enqueue_outbound_calls job; the job is the run)',
      headers: IdempotencyHeaders,
      body: z.strictObject({
        lead_ids: LeadIds,
        concurrency: z.number().int().min(1).max(1000).optional(),
        call_flow: CallFlowInput.optional().describe('this run only; default: the business\'s flow (outbound settings)'),
      }),
      response: { 202: Accepted, ...errorResponses },
    },
  }, async (request, reply) => {
    const who = caller(request);
    const s = await settingsOf(who.businessId);
    const b = request.body;
    checkFlow(b.call_flow, 'body.call_flow');
    const stored = await acceptRun(deps.accept, who, b.lead_ids, b.concurrency, s.maxOutboundCalls, idempotencyOf(request, b), b.call_flow ?? null);
    return sendAccepted(reply, stored);
  });

  app.get('/outbound/runs', {
    config: need('agent'),
    schema: {
      tags: ['outbound'],
      summary: 'Runs of your business, newest first, with the count of their items per status',
      querystring: z.object(listQuery),
      response: { 200: pageOf(Run), ...errorResponses },
    },
  }, async (request) => {
    const businessId = caller(request).businessId;
    return paged(request.query, (cursor, limit) => listRuns(pool, businessId, cursor, limit), async (shown) => {
      const counts = await runCountsOf(pool, businessId, shown.map((r) => r.id));
      return shown.map((r) => runView(r, counts.get(r.id) ?? emptyCounts()));
    });
  });

  app.get('/outbound/runs/:id', {
    config: need('agent'),
    schema: { tags: ['outbound'], summary: 'A run with the count of its items per status', params: IdParam, response: { 200: Run, ...errorResponses } },
  }, async (request) => {
    const businessId = caller(request).businessId;
    const run = await getRun(pool, businessId, request.params.id);
    if (!run) throw new NotFoundError('Run');
    return runView(run, await runCounts(pool, businessId, run.id));
  });

  app.get('/outbound/runs/:id/items', {
    config: need('agent'),
    schema: {
      tags: ['outbound'],
      summary: "A run's items (one per lead), in order",
      params: IdParam,
      querystring: z.object(listQuery),
      response: { 200: pageOf(RunItem), ...errorResponses },
    },
  }, async (request) => {
    const businessId = caller(request).businessId;
    const run = await getRun(pool, businessId, request.params.id);
    if (!run) throw new NotFoundError('Run');
    return paged(request.query, (cursor, limit) => listRunItems(pool, businessId, run.id, cursor, limit), (shown) => shown.map(itemView));
  });

  app.post('/outbound/calls', {
    config: need('agent'),
    schema: {
      tags: ['outbound'],
      summary: 'Call 1–3 leads now, against the business’s call slots (429 concurrency_limit when they are taken)',
      body: z.strictObject({ lead_ids: z.array(Id).min(1).max(3) }),
      response: { 201: DirectCalls, ...errorResponses },
    },
  }, async (request, reply) => {
    const calls = await placeDirectCalls(pool, deps.dialer(), caller(request).businessId, request.body.lead_ids);
    return reply.status(201).send({ calls: calls.map(callView) });
  });

  app.get('/outbound/active', {
    config: need('agent'),
    schema: { tags: ['outbound'], summary: 'The business’s active calls against its limit', response: { 200: ActiveCalls, ...errorResponses } },
  }, async (request) => {
    const businessId = caller(request).businessId;
    const s = await settingsOf(businessId);
    const calls = await listActiveCalls(pool, businessId);
    return { active: calls.length, limit: s.maxOutboundCalls, calls: calls.map(callView) };
  });

  app.get('/calls', {
    config: need('agent'),
    schema: {
      tags: ['outbound'],
      summary: 'Calls, newest first',
      querystring: z.object({ ...listQuery, lead_id: IdParam.shape.id.optional(), status: z.enum(CALL_STATUSES).optional(), ...transcriptSearchQuery }),
      response: { 200: pageOf(Call), ...errorResponses },
    },
  }, async (request) => {
    const q = request.query;
    // Transcripts (src/transcripts/search.ts): with q, the calls whose transcript matches, best first.
    if (q.q !== undefined) return searchCallsPage(pool, caller(request).businessId, { ...q, q: q.q }, (shown) => shown.map(callView));
    return paged(q, (beforeId, limit) => listCalls(pool, caller(request).businessId, { leadId: q.lead_id, status: q.status, beforeId, limit }), (shown) => shown.map(callView));
  });

  app.get('/calls/:call_sid', {
    config: need('agent'),
    schema: { tags: ['outbound'], summary: 'One call by its provider sid', params: CallSidParam, response: { 200: Call, ...errorResponses } },
  }, async (request) => {
    const call = await getCallBySid(pool, caller(request).businessId, request.params.call_sid);
    if (!call) throw new NotFoundError('Call');
    return callView(call);
  });

  app.get('/outbound/settings', {
    config: need('agent'),
    schema: { tags: ['outbound'], summary: 'Dialer rules: calling hours, retries, maximum call duration, call flow', response: { 200: DialerSettings, ...errorResponses } },
  }, async (request) => settingsWithFlow(caller(request).businessId));

  app.patch('/outbound/settings', {
    config: need('admin'),
    schema: {
      tags: ['outbound'],
      summary: 'Change dialer rules (calling_hours or call_flow null = back to the default)',
      body: z.strictObject({
        calling_hours: z.strictObject({ start: HHMM, end: HHMM }).nullable().optional(),
        retry: RetryInput.optional(),
        max_call_s: z.number().int().min(10).max(14_400).nullable().optional(),
        call_flow: CallFlowInput.nullable().optional(),
      }),
      response: { 200: DialerSettings, ...errorResponses },
    },
  }, async (request) => {
    const who = caller(request);
    const businessId = who.businessId;
    const b = request.body;
    checkFlow(b.call_flow, 'body.call_flow');
    await withTx(pool, async (tx) => {
      if (b.call_flow !== undefined) await setCallFlow(tx, businessId, b.call_flow);
      await upsertSettings(tx, businessId, {
        calling_hours: b.calling_hours,
        retry_busy: b.retry?.busy ?? b.retry?.per_outcome?.busy?.attempts,
        retry_no_answer: b.retry?.no_answer ?? b.retry?.per_outcome?.no_answer?.attempts,
        retry_delay_s: b.retry?.delay_s,
        max_call_s: b.max_call_s,
      });
      if (b.retry?.per_outcome) await setRetryPerOutcome(tx, businessId, b.retry.per_outcome);
      await recordAudit(tx, { businessId, actor: actorOf(who), action: 'settings.update', targetType: 'settings', targetId: 'outbound', details: b });
    });
    return settingsWithFlow(businessId);
  });

  app.post('/outbound/dnc', {
    config: need('agent'),
    schema: {
      tags: ['outbound'],
      summary: 'Put a number on the do-not-call list (runs skip it; direct calls refuse it)',
      body: z.strictObject({ phone: z.string().trim().min(1).max(40), reason: z.string().trim().max(500).optional() }),
      response: { 201: DncNumber, ...errorResponses },
    },
  }, async (request, reply) => {
    const who = caller(request);
    const phone = normalizePhone(request.body.phone, who.defaultCountry);
    if (!phone) throw new ValidationError(msg('outbound.phone_invalid'), [{ path: 'body.phone', message: msg('issue.phone_invalid') }]);
    const row = await addDnc(pool, who.businessId, phone, request.body.reason ?? null, who.userId);
    return reply.status(201).send(dncView(row));
  });

  app.get('/outbound/dnc', {
    config: need('agent'),
    schema: { tags: ['outbound'], summary: 'The do-not-call list', querystring: z.object(listQuery), response: { 200: pageOf(DncNumber), ...errorResponses } },
  }, async (request) => {
    const q = request.query;
    const after = q.cursor ? Buffer.from(q.cursor, 'base64url').toString('utf8') : null;
    // The cursor is a phone we gave out; anything else (a NUL among it was a 500) is refused.
    if (after !== null && !DNC_CURSOR.test(after)) {
      throw new ValidationError(msg('request.cursor_invalid'), [{ path: 'querystring.cursor', message: msg('issue.cursor_invalid') }]);
    }
    const rows = await listDnc(pool, caller(request).businessId, after, q.limit + 1);
    const items = rows.slice(0, q.limit);
    const last = items.at(-1);
    return { items: items.map(dncView), next_cursor: rows.length > q.limit && last ? Buffer.from(last.phone).toString('base64url') : null };
  });

  app.delete('/outbound/dnc/:phone', {
    config: need('admin'),
    schema: {
      tags: ['outbound'],
      summary: 'Take a number off the do-not-call list',
      params: z.object({ phone: z.string().min(1).max(40) }),
      response: { 204: NoContent, ...errorResponses },
    },
  }, async (request, reply) => {
    const who = caller(request);
    const phone = normalizePhone(request.params.phone, who.defaultCountry);
    if (!phone) throw new ValidationError(msg('outbound.phone_invalid'), [{ path: 'params.phone', message: msg('issue.phone_invalid') }]);
    // Calling a number again that asked not to be called is a decision someone must own.
    await withTx(pool, async (tx) => {
      if (!(await removeDnc(tx, who.businessId, phone))) throw new NotFoundError('Do-not-call number');
      await recordAudit(tx, { businessId: who.businessId, actor: actorOf(who), action: 'dnc.remove', targetType: 'phone', targetId: phone });
    });
    return reply.status(204).send();
  });
};
