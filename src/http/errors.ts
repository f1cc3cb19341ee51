import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isRetryablePgError } from '../db/pool.js';
import type { ApiErrorBody } from '../contract/common.js';
import { AppError, newErrorId, type Issue } from '../lib/errors.js';
import { NO_SNIFF } from './security-headers.js';

/** The envelope of every error answer: the contract's `ApiErrorBody`. */
export type ErrorBody = ApiErrorBody;

export function errorBody(code: string, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: details ? { code, message, details } : { code, message } };
}

/** A 400 invalid_request: every one names what is wrong in `details.issues`, as API.md promises. */
export function invalidRequest(message: string, issues: Issue[]): ErrorBody {
  return errorBody('invalid_request', message, { issues });
}

/** Fastify's own client-error codes, mapped to the envelope (never a 5xx for bad input). */
const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; code: string; message: string; issue?: Issue }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', message: 'The request body is too large.' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'unsupported_media_type',
    message: 'Send the body as application/json (or text/csv where the endpoint says so).',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'invalid_request',
    message: 'The JSON body is empty.',
    issue: { path: 'body', message: 'is empty; send a JSON value or no Content-Type' },
  },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    code: 'invalid_request',
    message: 'The body is not valid JSON (or it has a "__proto__" or "constructor" key, which is refused).',
    issue: { path: 'body', message: 'is not valid JSON' },
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'invalid_request',
    message: 'Content-Length does not match the body.',
    issue: { path: 'headers.content-length', message: 'does not match the body' },
  },
};

/**
 * A 500 that carries no text of the error itself (a PostgreSQL message names constraints,
 * columns, values): the raw error is logged under a fresh error id, and the client gets that id
 * to quote, in the message and as `details.error_id`.
 */
function internalError(log: FastifyBaseLogger, err: unknown, event: string): ErrorBody {
  const errorId = newErrorId();
  log.error({ err, errorId }, event);
  return errorBody('internal_error', `Something went wrong on our side (error id ${errorId}); it has been logged.`, { error_id: errorId });
}

/** The one place where typed errors become HTTP status codes and the error envelope. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof AppError) {
      if (err.headers) reply.headers(err.headers);
      return reply.status(err.status).send(errorBody(err.code, err.message, err.details));
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = err.validationContext ?? 'body';
      const issues: Issue[] = err.validation.map((v) => ({
        path: [where, ...v.instancePath.split('/').filter(Boolean)].join('.'),
        message: v.message ?? 'is invalid',
      }));
      const summary = issues.slice(0, 3).map((i) => `${i.path}: ${i.message}`).join('; ');
      return reply.status(400).send(errorBody('invalid_request', `The request is invalid: ${summary}.`, { issues }));
    }
    const known = err.code ? FASTIFY_CLIENT_ERRORS[err.code] : undefined;
    if (known) return reply.status(known.status).send(errorBody(known.code, known.message, known.issue && { issues: [known.issue] }));
    if (err instanceof SyntaxError || (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)) {
      const status = err.statusCode ?? 400;
      return reply.status(status).send(status === 400
        ? invalidRequest(err.message, [{ path: 'body', message: err.message }])
        : errorBody('invalid_request', err.message));
    }
    if (isRetryablePgError(err)) {
      // The database restarts or fails over: the pool reconnects by itself, so the same request
      // will work in a moment. Say so (503 + Retry-After) instead of an opaque 500.
      request.log.warn({ err }, 'database unavailable');
      return reply.status(503).header('retry-after', '1')
        .send(errorBody('database_unavailable', 'The database is briefly unavailable; retry in a second.'));
    }
    return reply.status(500).send(internalError(request.log, err, 'unhandled error'));
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('not_found', `No route ${request.method} ${request.url.split('?')[0]}.`));
  });
}

/**
 * Fastify's router errors (a path that is not valid percent-encoding, a path parameter longer
 * than maxParamLength) bypass the error handler; without this they answer a body of Fastify's
 * own shape instead of the envelope.
 */
export function frameworkErrorHandler(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path segment is too long' : 'is not valid percent-encoding';
  void reply.status(400).header(NO_SNIFF.name, NO_SNIFF.value).send(invalidRequest(`The URL is invalid: ${message}.`, [{ path: 'url', message }]));
}

/**
 * Requests Node's HTTP parser rejects (bad header characters, oversized headers) never reach
 * Fastify's handlers; answer them in the envelope too, then close the connection as Node does.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, label, body] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? [408, 'Request Timeout', errorBody('request_timeout', 'The request was not received in time.')]
    : err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', errorBody('headers_too_large', 'The request headers are too large.')]
      : [400, 'Bad Request', invalidRequest('The HTTP request is malformed.', [{ path: 'request', message: 'is not valid HTTP/1.1' }])];
  const json = JSON.stringify(body);
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${label}\r\nContent-Length: ${Buffer.byteLength(json)}\r\nContent-Type: application/json; charset=utf-8\r\n${NO_SNIFF.name}: ${NO_SNIFF.value}\r\nConnection: close\r\n\r\n${json}`);
  }
  socket.destroy(err);
}
