import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import type { AcceptDeps } from '../gate/accept.js';
import { Accepted, Broadcast, errorResponses, OptOut, pageOf, Recipient } from '../contract/index.js';
import { idempotencyOf, sendAccepted } from '../http/accepted.js';
import { caller } from '../http/auth.js';
import { listQuery, paged } from '../http/pagination.js';
import { IdempotencyHeaders, IdParam } from '../http/schemas.js';
import { NotFoundError } from '../lib/errors.js';
import { getBroadcast, listBroadcasts, listRecipients } from './broadcasts.repo.js';
import { BroadcastBody, OptOutBody, RecipientStatusParam } from './broadcasts.schemas.js';
import { acceptBroadcast, getBroadcastWithCounts, optOut } from './broadcasts.service.js';
import { broadcastView, optOutView, recipientView } from './broadcasts.view.js';
import { listOptOuts } from './opt-outs.repo.js';
import { emptyCounts } from './recipient-status.js';
import { countsOf } from './send.repo.js';
import { need } from '../http/roles.js';

export interface BroadcastRouteDeps {
  pool: pg.Pool;
  accept: AcceptDeps;
  /** The sender of the business's next broadcast: its own WhatsApp channel's number, else the deployment's. */
  senderOf: (businessId: number) => Promise<string>;
}

export const broadcastRoutes = (deps: BroadcastRouteDeps): FastifyPluginAsyncZod => async (app) => {
  const { pool } = deps;

  app.post('/whatsapp/broadcasts', {
    config: need('admin'),
    schema: {
      tags: ['whatsapp'],
      summary: 'Broadcast a text or template message (broadcast_whatsapp job); phones are normalized, duplicates sent once, opted-out numbers skipped',
      headers: IdempotencyHeaders,
      body: BroadcastBody,
      response: { 202: Accepted, ...errorResponses },
    },
  }, async (request, reply) => {
    const stored = await acceptBroadcast(deps, caller(request), request.body, idempotencyOf(request, request.body));
    return sendAccepted(reply, stored);
  });

  app.get('/whatsapp/broadcasts', {
    config: need('agent'),
    schema: {
      tags: ['whatsapp'],
      summary: 'Broadcasts of your business, newest first',
      querystring: z.object(listQuery),
      response: { 200: pageOf(Broadcast), ...errorResponses },
    },
  }, async (request) => {
    const { businessId } = caller(request);
    return paged(request.query, (beforeId, limit) => listBroadcasts(pool, businessId, { beforeId, limit }), async (shown) => {
      const counts = await countsOf(pool, businessId, shown.map((b) => b.id));
      return shown.map((b) => broadcastView(b, counts.get(b.id) ?? emptyCounts()));
    });
  });

  app.get('/whatsapp/broadcasts/:id', {
    config: need('agent'),
    schema: {
      tags: ['whatsapp'],
      summary: 'A broadcast with its recipient counts by status (they add up to the recipients)',
      params: IdParam,
      response: { 200: Broadcast, ...errorResponses },
    },
  }, async (request) => {
    const { broadcast, counts } = await getBroadcastWithCounts(pool, caller(request).businessId, request.params.id);
    return broadcastView(broadcast, counts);
  });

  app.get('/whatsapp/broadcasts/:id/recipients', {
    config: need('agent'),
    schema: {
      tags: ['whatsapp'],
      summary: 'Recipients of a broadcast, by id; filter by status',
      params: IdParam,
      querystring: z.object({ ...listQuery, status: RecipientStatusParam.optional() }),
      response: { 200: pageOf(Recipient), ...errorResponses },
    },
  }, async (request) => {
    const { businessId } = caller(request);
    if (!(await getBroadcast(pool, businessId, request.params.id))) throw new NotFoundError('Broadcast');
    const q = request.query;
    return paged(q, (afterId, limit) => listRecipients(pool, businessId, request.params.id, { status: q.status, afterId, limit }), (shown) => shown.map(recipientView));
  });

  app.post('/whatsapp/opt-outs', {
    config: need('agent'),
    schema: {
      tags: ['whatsapp'],
      summary: 'Opt a number out of broadcasts (normalized; idempotent)',
      body: OptOutBody,
      response: { 201: OptOut, ...errorResponses },
    },
  }, async (request, reply) => {
    const row = await optOut(pool, caller(request), request.body.phone);
    return reply.status(201).send(optOutView(row));
  });

  app.get('/whatsapp/opt-outs', {
    config: need('agent'),
    schema: {
      tags: ['whatsapp'],
      summary: 'Opted-out numbers of your business',
      querystring: z.object(listQuery),
      response: { 200: pageOf(OptOut), ...errorResponses },
    },
  }, async (request) => {
    return paged(request.query, (afterId, limit) => listOptOuts(pool, caller(request).businessId, { afterId, limit }), (shown) => shown.map(optOutView));
  });
};
