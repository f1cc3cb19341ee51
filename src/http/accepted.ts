import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Accepted, Idempotency } from '../gate/accept.js';
import { requestHash } from '../gate/idempotency.js';

/**
 * The Idempotency-Key of a job-creating request, hashed with the route and `body` — the request
 * body, or anything that identifies it as well (an import passes its content hash, so 100 000
 * rows are not canonicalized a second time).
 */
export function idempotencyOf(request: FastifyRequest, body: unknown): Idempotency | undefined {
  const key = request.headers['idempotency-key'];
  if (typeof key !== 'string' || key === '') return undefined;
  return { key, requestHash: requestHash(request.method, request.routeOptions.url ?? request.url, body) };
}

/** 202 (or the replayed answer) with Location pointing at the job. */
export function sendAccepted(reply: FastifyReply, stored: Accepted): FastifyReply {
  return reply
    .status(stored.statusCode)
    .header('location', `/api/v1/jobs/${String(stored.body.job_id)}`)
    .send(stored.body);
}
