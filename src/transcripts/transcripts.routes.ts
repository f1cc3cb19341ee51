import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { Accepted, errorResponses, Transcript } from '../contract/index.js';
import type { AcceptDeps } from '../gate/accept.js';
import { idempotencyOf, sendAccepted } from '../http/accepted.js';
import { caller } from '../http/auth.js';
import { need } from '../http/roles.js';
import { Id, IdempotencyHeaders } from '../http/schemas.js';
import { msg, zodMessage } from '../lib/messages.js';
import { acceptTranscribeBulk, transcriptOf } from './transcripts.service.js';

const CallSid = z.string().regex(/^CA[0-9a-fA-F]{32}$/, 'must be a call sid (CA + 32 hex digits)');

const TranscribeBody = z
  .strictObject({
    call_sids: z.array(CallSid).min(1).max(10_000).optional(),
    run_id: Id.optional(),
  })
  .refine((b) => (b.call_sids === undefined) !== (b.run_id === undefined), zodMessage(msg('issue.transcribe_target')));

export const transcriptRoutes = (pool: pg.Pool, accept: AcceptDeps): FastifyPluginAsyncZod => async (app) => {
  app.get('/calls/:call_sid/transcript', {
    config: need('agent'),
    schema: {
      tags: ['transcripts'],
      summary: 'A call’s transcript: status, language, text and timed segments',
      params: z.object({ call_sid: CallSid }),
      response: { 200: Transcript, ...errorResponses },
    },
  }, async (request) => transcriptOf(pool, caller(request).businessId, request.params.call_sid));

  app.post('/calls/transcribe', {
    config: need('admin'),
    schema: {
      tags: ['transcripts'],
      summary: 'Re-transcribe chosen calls or every recorded call of a run (transcribe_calls_bulk job)',
      headers: IdempotencyHeaders,
      body: TranscribeBody,
      response: { 202: Accepted, ...errorResponses },
    },
  }, async (request, reply) => {
    const b = request.body;
    const stored = await acceptTranscribeBulk(pool, accept, caller(request), b.call_sids ? { callSids: b.call_sids } : { runId: b.run_id ?? 0 }, idempotencyOf(request, b));
    return sendAccepted(reply, stored);
  });
};
