import type { ParsedUrlQuery } from 'node:querystring';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { errorResponses } from '../contract/index.js';
import { NoContent, nonJsonResponse } from '../http/schemas.js';
import { AppError, ValidationError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { msg, zodMessage } from '../lib/messages.js';
import type { TelephonyProvider } from '../providers/telephony/types.js';
import { agentsOf, defaultCallFlow, flowLanguage, onMachineOf, storedFlow, type CallFlow } from './call-flow.js';
import { answerTwiml, dialStatusTwiml, gatherDecision, gatherTwiml, hangupTwiml, voicemailTwiml, wasBridged, type FlowContext } from './call-flow.twiml.js';
import { getVoiceCall, markAnswered, markConnected, optOut, recordAnsweredBy, recordDigits, setMachineOutcome, type VoiceCall } from './call-outcome.repo.js';
import { voiceUrl } from './voice-urls.js';

export type Binding = 'bound' | 'forbidden' | 'unknown_call';

export interface VoiceWebhookDeps {
  pool: pg.Pool;
  log: Logger;
  publicBaseUrl(): string;
  /** The account the call was placed through (hanging up a machine, leaving a voicemail). */
  providerFor(businessId: number, accountSid: string | null): Promise<TelephonyProvider>;
  /** twilio.webhooks.ts bindCallback: the callback is this call's (token and sid). */
  bind(call: { call_sid: string | null; callback_token: string | null } | null, token: string | undefined, callSid: string): Binding;
}

/** The callback query of every voice URL (voice-urls.ts), plus the dial's agent index or an agent leg's. */
const VoiceQuery = z.object({
  b: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  call_id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  t: z.string().regex(/^[0-9a-f]{32}$/, zodMessage(msg('issue.callback_token'))).optional(),
  i: z.coerce.number().int().min(-1).max(9).optional(),
  leg: z.coerce.number().int().min(0).max(9).optional(),
});
type VoiceQuery = z.infer<typeof VoiceQuery>;

const DIGITS = /^[0-9*#]{0,32}$/;

function field(form: ParsedUrlQuery, name: string): string | undefined {
  const v = form[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Twilio's AnsweredBy (human, machine_start, machine_end_beep|silence|other, fax, unknown) → ours. */
export function answeredByOf(v: string | undefined): 'human' | 'machine' | 'unknown' {
  if (v === 'human') return 'human';
  if (v !== undefined && (v.startsWith('machine') || v === 'fax')) return 'machine';
  return 'unknown';
}

const TWIML = nonJsonResponse('text/xml', 'TwiML: what the call does next');

/**
 * The call flow's webhooks: `answer` (Twilio fetches the flow when the lead picks up), `gather`
 * (a key pressed), `amd` (asynchronous answering-machine detection's verdict) and `dial-status`
 * (the <Dial> action, and each agent leg's "answered"). Registered inside the Twilio webhooks
 * plugin, so each request was verified first exactly like the status callbacks (signature with
 * the call's account token, Twilio-shaped form, AccountSid); here it is bound to the call its URL
 * names. A webhook of an unknown or ended call answers a harmless <Hangup/> and changes nothing;
 * one of another call is 403. Each does at most a few short statements (and one provider request
 * for a machine), far inside Twilio's 15 s; retries are no-ops (call-outcome.repo.ts).
 */
export const voiceWebhooks = (deps: VoiceWebhookDeps): FastifyPluginAsyncZod => async (app) => {
  const { pool } = deps;

  const twiml = (reply: FastifyReply, xml: string) => reply.status(200).type('text/xml').send(xml);

  /** The call the URL names, when this callback is bound to it; 403 when it is another call's; null when there is no such call. */
  async function boundCall(q: VoiceQuery, callSid: string): Promise<VoiceCall | null> {
    const call = await getVoiceCall(pool, q.b, q.call_id);
    const binding = deps.bind(call, q.t, callSid);
    if (binding === 'forbidden') {
      deps.log.warn({ businessId: q.b, callId: q.call_id }, 'twilio voice webhook not bound to the call its URL names refused');
      throw new AppError(403, 'forbidden', msg('webhooks.twilio_not_this_call'));
    }
    return binding === 'bound' ? call : null;
  }

  function contextOf(call: VoiceCall): FlowContext {
    const flow: CallFlow = storedFlow(call.flow) ?? defaultCallFlow(call);
    const base = deps.publicBaseUrl();
    return {
      flow,
      language: flowLanguage(flow, call.locale),
      callerId: call.from_number,
      urls: {
        gather: voiceUrl(base, 'gather', call),
        dialStatus: (i) => voiceUrl(base, 'dial-status', call, { i }),
        agentLeg: (leg) => voiceUrl(base, 'dial-status', call, { leg }),
      },
    };
  }

  const schema = (summary: string) => ({ tags: ['webhooks'], summary, querystring: VoiceQuery, response: { 200: TWIML, 204: NoContent, ...errorResponses }, hide: true });

  app.post('/twilio/voice/answer', { schema: schema('Twilio: the call was answered; answers the call flow (TwiML, signed)') }, async (request, reply) => {
    const form = (request.body ?? {}) as ParsedUrlQuery;
    const sid = field(form, 'CallSid') ?? '';
    const call = await boundCall(request.query, sid);
    if (!call?.active) return twiml(reply, hangupTwiml());
    const ctx = contextOf(call);
    // A message is played from here on; a webhook flow hands the lead to the business's own IVR.
    const outcome = ctx.flow.kind === 'message' ? 'message_played' : ctx.flow.kind === 'webhook' ? 'connected' : null;
    await markAnswered(pool, call.business_id, call.id, sid, outcome);
    return twiml(reply, answerTwiml(ctx));
  });

  app.post('/twilio/voice/gather', { schema: schema('Twilio: the lead pressed a key (TwiML, signed)') }, async (request, reply) => {
    const form = (request.body ?? {}) as ParsedUrlQuery;
    const sid = field(form, 'CallSid') ?? '';
    const digits = field(form, 'Digits') ?? '';
    if (!DIGITS.test(digits)) {
      const issues = [{ path: 'body.Digits', message: msg('issue.invalid') }];
      throw new ValidationError(msg('webhooks.twilio_invalid', { issues }), issues);
    }
    const call = await boundCall(request.query, sid);
    if (!call) return twiml(reply, hangupTwiml());
    const ctx = contextOf(call);
    const decision = gatherDecision(ctx.flow, digits);
    // Press 9 is honoured even when the call's end was recorded first: the lead asked.
    if (decision === 'opt_out') await optOut(pool, call.business_id, call.id, sid, call.to_number, digits);
    else if (!call.active) return twiml(reply, hangupTwiml());
    else await recordDigits(pool, call.business_id, call.id, sid, digits);
    return twiml(reply, gatherTwiml(ctx, decision));
  });

  app.post('/twilio/voice/amd', { schema: schema('Twilio: asynchronous answering-machine detection result (signed)') }, async (request, reply) => {
    const form = (request.body ?? {}) as ParsedUrlQuery;
    const sid = field(form, 'CallSid') ?? '';
    const call = await boundCall(request.query, sid);
    if (!call) return reply.status(204).send();
    const answeredBy = answeredByOf(field(form, 'AnsweredBy'));
    const first = await recordAnsweredBy(pool, call.business_id, call.id, sid, answeredBy);
    if (!first || answeredBy !== 'machine') return reply.status(204).send();
    const ctx = contextOf(call);
    const onMachine = onMachineOf(ctx.flow);
    await setMachineOutcome(pool, call.business_id, call.id, onMachine === 'hangup' ? 'hung_up' : 'voicemail_left');
    try {
      const provider = await deps.providerFor(call.business_id, call.account_sid);
      // Hanging up at once frees the business's call slot (the final status callback follows).
      if (onMachine === 'hangup') await provider.endCall(sid);
      else await provider.redirectCall(sid, voicemailTwiml(ctx.language, onMachine.voicemail));
    } catch (err) {
      // The call still ends: its maximum duration (TimeLimit), and the sweeper's hang-up past it.
      deps.log.warn({ err, businessId: call.business_id, callId: call.id }, 'could not act on an answering machine; the call ends at its time limit');
    }
    return reply.status(204).send();
  });

  app.post('/twilio/voice/dial-status', { schema: schema('Twilio: the <Dial> to the agents ended (TwiML), or an agent leg answered (signed)') }, async (request, reply) => {
    const form = (request.body ?? {}) as ParsedUrlQuery;
    const q = request.query;
    if (q.leg !== undefined) {
      // An agent leg's status callback: its CallSid is the leg's own; the call is its parent.
      const call = await boundCall(q, field(form, 'ParentCallSid') ?? '');
      if (call && field(form, 'CallStatus') === 'in-progress') {
        await markConnected(pool, call.business_id, call.id, field(form, 'ParentCallSid') ?? '', agentsOf(contextOf(call).flow)[q.leg] ?? null);
      }
      return reply.status(204).send();
    }
    const sid = field(form, 'CallSid') ?? '';
    const call = await boundCall(q, sid);
    if (!call) return twiml(reply, hangupTwiml());
    const ctx = contextOf(call);
    const index = q.i ?? -1;
    const status = field(form, 'DialCallStatus');
    if (wasBridged(status)) await markConnected(pool, call.business_id, call.id, sid, index >= 0 ? (agentsOf(ctx.flow)[index] ?? null) : null);
    if (!call.active) return twiml(reply, hangupTwiml());
    return twiml(reply, dialStatusTwiml(ctx, index, status));
  });
};
