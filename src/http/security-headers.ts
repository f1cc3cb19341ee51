import type { FastifyReply, FastifyRequest } from 'fastify';

export const NO_SNIFF = { name: 'x-content-type-options', value: 'nosniff' } as const;

/**
 * `X-Content-Type-Options: nosniff` on every answer, so a browser never reads a JSON error or a
 * CSV echo as HTML or script. Set on the raw response in the first onRequest hook: it then also
 * reaches answers that skip reply.send (the SSE stream writes its own head after hijack) and
 * answers refused by a later hook (the request budget, auth). Router errors and requests Node's
 * parser rejects never get here; errors.ts adds it to those itself.
 */
export async function noSniff(_request: FastifyRequest, reply: FastifyReply): Promise<void> {
  reply.raw.setHeader(NO_SNIFF.name, NO_SNIFF.value);
}
