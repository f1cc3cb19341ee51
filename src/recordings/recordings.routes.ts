import { createReadStream } from 'node:fs';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { errorResponses, RecordingProcessing } from '../contract/index.js';
import { caller } from '../http/auth.js';
import { AppError } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import { nonJsonResponse } from '../http/schemas.js';
import type { RecordingsCache } from './cache.js';
import { parseRange } from './range.js';
import { playRecording } from './recordings.service.js';
import { need } from '../http/roles.js';

export interface RecordingRouteDeps {
  pool: pg.Pool;
  cache: RecordingsCache;
}

const CallSidParam = z.object({ call_sid: z.string().regex(/^CA[0-9a-fA-F]{32}$/, 'must be a call sid (CA + 32 hex digits)') });

export const recordingRoutes = (deps: RecordingRouteDeps): FastifyPluginAsyncZod => async (app) => {
  app.get('/calls/:call_sid/recording', {
    config: need('agent'),
    schema: {
      tags: ['recordings'],
      summary: 'Stream a call recording (Range supported); 202 while it is being fetched',
      description: '416 `range_not_satisfiable` for a Range beyond the file; 404 when the call has no recording.',
      params: CallSidParam,
      // The audio is sent as a file stream, which Fastify never serializes: 200 and 206 only document it.
      response: {
        200: nonJsonResponse('audio/wav', 'the whole recording (Accept-Ranges: bytes)'),
        202: RecordingProcessing,
        206: nonJsonResponse('audio/wav', 'the requested byte range (Content-Range)'),
        ...errorResponses,
      },
    },
  }, async (request, reply) => {
    const answer = await playRecording(deps.pool, deps.cache, caller(request), request.params.call_sid);
    if (answer.kind === 'processing') {
      return reply
        .status(202)
        .header('retry-after', String(answer.retryAfterS))
        .header('location', `/api/v1/jobs/${answer.jobId}`)
        .send({ status: 'processing', job_id: answer.jobId, retry_after: answer.retryAfterS });
    }
    const range = parseRange(request.headers.range, answer.size);
    if (range.kind === 'unsatisfiable') {
      throw new AppError(416, 'range_not_satisfiable', msg('recordings.range_not_satisfiable', { size: answer.size }), { size: answer.size }, {
        'accept-ranges': 'bytes',
        'content-range': `bytes */${answer.size}`,
      });
    }
    reply.header('accept-ranges', 'bytes').header('content-type', 'audio/wav').header('cache-control', 'private, max-age=3600');
    if (range.kind === 'partial') {
      return reply
        .status(206)
        .header('content-range', `bytes ${range.start}-${range.end}/${answer.size}`)
        .header('content-length', String(range.end - range.start + 1))
        .send(createReadStream(answer.file, { start: range.start, end: range.end }));
    }
    return reply.status(200).header('content-length', String(answer.size)).send(createReadStream(answer.file));
  });
};
