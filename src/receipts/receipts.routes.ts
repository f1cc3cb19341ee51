import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import type { AcceptDeps } from '../gate/accept.js';
import { Accepted, errorResponses, pageOf, Receipt } from '../contract/index.js';
import { msg, zodMessage } from '../lib/messages.js';
import { caller } from '../http/auth.js';
import { listQuery, paged } from '../http/pagination.js';
import { IdempotencyHeaders, IsoInstant } from '../http/schemas.js';
import { idempotencyOf, sendAccepted } from '../http/accepted.js';
import { insertReceipt, listReceipts } from './receipts.repo.js';
import { acceptDeleteAllReceipts, receiptView } from './receipts.service.js';
import { need } from '../http/roles.js';

/** numeric(14, 2) holds up to 999 999 999 999.99. */
const MAX_AMOUNT = 999_999_999_999.99;

/** At most two decimals, judged on the decimal value the client wrote (0.1 + 0.2 is not it). */
export function hasAtMostTwoDecimals(n: number): boolean {
  return Math.abs(n * 100 - Math.round(n * 100)) < 1e-6;
}

const ReceiptBody = z.strictObject({
  vendor: z.string().trim().min(1).max(200),
  amount: z.number().min(0).max(MAX_AMOUNT).refine(hasAtMostTwoDecimals, zodMessage(msg('issue.two_decimals'))),
  currency: z.string().regex(/^[A-Z]{3}$/, zodMessage(msg('issue.currency'))),
  issued_at: IsoInstant,
});

export const receiptRoutes = (pool: pg.Pool, accept: AcceptDeps): FastifyPluginAsyncZod => async (app) => {
  app.post('/receipts', {
    config: need('admin'),
    schema: { tags: ['receipts'], summary: 'Record a receipt', body: ReceiptBody, response: { 201: Receipt, ...errorResponses } },
  }, async (request, reply) => {
    const b = request.body;
    const receipt = await insertReceipt(pool, caller(request).businessId, {
      vendor: b.vendor,
      amount: b.amount,
      currency: b.currency,
      issuedAt: b.issued_at,
    });
    return reply.status(201).send(receiptView(receipt));
  });

  app.get('/receipts', {
    config: need('agent'),
    schema: {
      tags: ['receipts'],
      summary: 'List receipts, oldest first',
      querystring: z.object(listQuery),
      response: { 200: pageOf(Receipt), ...errorResponses },
    },
  }, async (request) => {
    return paged(request.query, (cursor, limit) => listReceipts(pool, caller(request).businessId, cursor, limit), (shown) => shown.map(receiptView));
  });

  app.delete('/receipts', {
    config: need('admin'),
    schema: {
      tags: ['receipts'],
      summary: 'Delete all of the business\'s receipts (delete_receipts_all job)',
      headers: IdempotencyHeaders,
      response: { 202: Accepted, ...errorResponses },
    },
  }, async (request, reply) => {
    const stored = await acceptDeleteAllReceipts(accept, pool, caller(request), idempotencyOf(request, {}));
    return sendAccepted(reply, stored);
  });
};
