import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isRetryablePgError } from '../db/pool.js';
import type { ApiErrorBody } from '../contract/common.js';
import { AppError, newErrorId, ValidationError, type ErrorText, type Issue } from '../lib/errors.js';
import { issueMessage, msg, render, type Locale, type Message } from '../lib/messages.js';
import { localeOf, markLanguage } from './locale.js';
import { NO_SNIFF } from './security-headers.js';

/** The envelope of every error answer: the contract's `ApiErrorBody`. */
export type ErrorBody = ApiErrorBody;

export function errorBody(code: string, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: details ? { code, message, details } : { code, message } };
}

/** `details.issues` as a client reads it: the same paths, each message in `locale`. */
export function renderIssues(issues: readonly Issue[], locale: Locale): { path: string; message: string }[] {
  return issues.map((i) => ({ path: i.path, message: render(i.message, locale) }));
}

/** A 400 invalid_request: every one names what is wrong in `details.issues`, as API.md promises. */
export function invalidRequest(message: ErrorText, issues: readonly Issue[], locale: Locale): ErrorBody {
  return errorBody('invalid_request', render(message, locale), { issues: renderIssues(issues, locale) });
}

/** Fastify's own client-error codes, mapped to the envelope (never a 5xx for bad input). */
const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; code: string; message: Message; issue?: Issue }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', message: msg('request.body_too_large') },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', message: msg('request.unsupported_media_type') },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'invalid_request',
    message: msg('request.empty_json'),
    issue: { path: 'body', message: msg('issue.empty_json') },
  },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    code: 'invalid_request',
    message: msg('request.invalid_json'),
    issue: { path: 'body', message: msg('issue.not_json') },
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'invalid_request',
    message: msg('request.content_length_mismatch'),
    issue: { path: 'headers.content-length', message: msg('issue.content_length_mismatch') },
  },
};

/** A zod issue as Fastify hands it over (code as `keyword`, its other fields as `params`) → a catalogue message. */
function validationIssue(v: { keyword: string; message?: string; params: Record<string, unknown> }): Message {
  return v.message === undefined ? msg('issue.invalid') : issueMessage({ ...v.params, code: v.keyword, message: v.message });
}

/** The one place where typed errors become HTTP status codes and the error envelope, in the request's language. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const locale = request.locale;
    const send = (status: number, code: string, text: ErrorText, details?: Record<string, unknown>) => {
      markLanguage(reply, locale);
      return reply.status(status).send(errorBody(code, render(text, locale), details));
    };
    if (err instanceof AppError) {
      if (err.headers) reply.headers(err.headers);
      const details = err instanceof ValidationError ? { ...err.details, issues: renderIssues(err.issues, locale) } : err.details;
      return send(err.status, err.code, err.text, details);
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = err.validationContext ?? 'body';
      const issues: Issue[] = err.validation.map((v) => ({
        path: [where, ...v.instancePath.split('/').filter(Boolean)].join('.'),
        message: validationIssue(v),
      }));
      return send(400, 'invalid_request', msg('request.invalid', { issues }), { issues: renderIssues(issues, locale) });
    }
    const known = err.code ? FASTIFY_CLIENT_ERRORS[err.code] : undefined;
    if (known) return send(known.status, known.code, known.message, known.issue && { issues: renderIssues([known.issue], locale) });
    if (err instanceof SyntaxError || (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)) {
      const status = err.statusCode ?? 400;
      const text = msg('request.refused', { text: err.message });
      return send(status, 'invalid_request', text, status === 400 ? { issues: renderIssues([{ path: 'body', message: text }], locale) } : undefined);
    }
    if (isRetryablePgError(err)) {
      // The database restarts or fails over: the pool reconnects by itself, so the same request
      // will work in a moment. Say so (503 + Retry-After) instead of an opaque 500.
      request.log.warn({ err }, 'database unavailable');
      reply.header('retry-after', '1');
      return send(503, 'database_unavailable', msg('request.database_unavailable'));
    }
    // A 500 carries no text of the error itself (a PostgreSQL message names constraints,
    // columns, values): the raw error is logged under a fresh error id, and the client gets
    // that id to quote, in the message and as `details.error_id`.
    const errorId = newErrorId();
    request.log.error({ err, errorId }, 'unhandled error');
    return send(500, 'internal_error', msg('request.internal_error', { errorId }), { error_id: errorId });
  });

  app.setNotFoundHandler((request, reply) => {
    const locale = request.locale;
    markLanguage(reply, locale);
    const text = msg('request.route_not_found', { method: request.method, path: request.url.split('?')[0] ?? '' });
    reply.status(404).send(errorBody('not_found', render(text, locale)));
  });
}

/**
 * Fastify's router errors (a path that is not valid percent-encoding, a path parameter longer
 * than maxParamLength) bypass the error handler; without this they answer a body of Fastify's
 * own shape instead of the envelope. Their request is Fastify's bare one, without our
 * decorations (`locale`), so the language is worked out here.
 */
export function frameworkErrorHandler(defaultLocale: Locale) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const reason = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? msg('issue.path_segment_too_long') : msg('issue.bad_percent_encoding');
    const locale = localeOf({ headers: request.headers }, defaultLocale);
    markLanguage(reply, locale);
    void reply.status(400).header(NO_SNIFF.name, NO_SNIFF.value)
      .send(invalidRequest(msg('request.url_invalid', { reason }), [{ path: 'url', message: reason }], locale));
  };
}

/**
 * Requests Node's HTTP parser rejects (bad header characters, oversized headers) never reach
 * Fastify's handlers; answer them in the envelope too, then close the connection as Node does.
 * Their headers were never read, so they are answered in the configured default language.
 */
export function clientErrorHandler(locale: Locale) {
  return (err: Error & { code?: string }, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, label, body] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', errorBody('request_timeout', render(msg('request.timeout'), locale))]
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', errorBody('headers_too_large', render(msg('request.headers_too_large'), locale))]
        : [400, 'Bad Request', invalidRequest(msg('request.malformed_http'), [{ path: 'request', message: msg('issue.not_http') }], locale)];
    const json = JSON.stringify(body);
    if (socket.writable) {
      socket.write(`HTTP/1.1 ${status} ${label}\r\nContent-Length: ${Buffer.byteLength(json)}\r\nContent-Type: application/json; charset=utf-8\r\n`
        + `Content-Language: ${locale}\r\n${NO_SNIFF.name}: ${NO_SNIFF.value}\r\nConnection: close\r\n\r\n${json}`);
    }
    socket.destroy(err);
  };
}
