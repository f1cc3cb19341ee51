import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import type { AcceptDeps } from '../gate/accept.js';
import { Accepted, errorResponses } from '../contract/index.js';
import { msg, zodMessage } from '../lib/messages.js';
import { caller } from '../http/auth.js';
import { Id, IdempotencyHeaders, LeadIds } from '../http/schemas.js';
import { idempotencyOf, sendAccepted } from '../http/accepted.js';
import { acceptBulkDelete, acceptBulkUpdate, acceptDeleteImported } from './bulk.service.js';
import { Slug, Tags } from './leads.schemas.js';
import { need } from '../http/roles.js';

const LeadSetBody = z
  .strictObject({
    status: Slug.optional(),
    owner_user_id: Id.nullable().optional().describe('a user of your business, or null to unassign'),
    tags_add: Tags.optional(),
    tags_remove: Tags.optional().describe('applied after tags_add'),
  })
  .refine((s) => Object.values(s).some((v) => v !== undefined), zodMessage(msg('issue.bulk_set_empty')));

const DeleteImportedBody = z
  .strictObject({
    import_id: Id.optional(),
    lead_ids: LeadIds.optional(),
    all: z.literal(true).optional(),
  })
  .refine((b) => [b.import_id, b.lead_ids, b.all].filter((v) => v !== undefined).length === 1, zodMessage(msg('issue.one_target')));

export const bulkRoutes = (pool: pg.Pool, accept: AcceptDeps): FastifyPluginAsyncZod => async (app) => {
  app.post('/leads/bulk-delete', {
    config: need('admin'),
    schema: {
      tags: ['leads'],
      summary: 'Delete leads with their notes, activities and reminders (delete_leads_bulk job)',
      headers: IdempotencyHeaders,
      body: z.strictObject({ lead_ids: LeadIds }),
      response: { 202: Accepted, ...errorResponses },
    },
  }, async (request, reply) => {
    const stored = await acceptBulkDelete(accept, caller(request), request.body.lead_ids, idempotencyOf(request, request.body));
    return sendAccepted(reply, stored);
  });

  app.post('/leads/bulk-update', {
    config: need('admin'),
    schema: {
      tags: ['leads'],
      summary: 'Change status, owner or tags of many leads (update_leads_bulk job)',
      headers: IdempotencyHeaders,
      body: z.strictObject({ lead_ids: LeadIds, set: LeadSetBody }),
      response: { 202: Accepted, ...errorResponses },
    },
  }, async (request, reply) => {
    const b = request.body;
    const stored = await acceptBulkUpdate(accept, caller(request), b.lead_ids, b.set, idempotencyOf(request, b));
    return sendAccepted(reply, stored);
  });

  app.post('/leads/imported/bulk-delete', {
    config: need('admin'),
    schema: {
      tags: ['leads'],
      summary: 'Delete imported leads: of one import, by ids, or all of them (delete_imported_leads job)',
      headers: IdempotencyHeaders,
      body: DeleteImportedBody,
      response: { 202: Accepted, ...errorResponses },
    },
  }, async (request, reply) => {
    const b = request.body;
    const scope = b.import_id !== undefined ? { importId: b.import_id } : b.lead_ids !== undefined ? { leadIds: b.lead_ids } : { all: true as const };
    const stored = await acceptDeleteImported(accept, pool, caller(request), scope, idempotencyOf(request, b));
    return sendAccepted(reply, stored);
  });
};
