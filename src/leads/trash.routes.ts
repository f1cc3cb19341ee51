import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { Accepted, errorResponses, pageOf, TrashedLead } from '../contract/index.js';
import { msg, zodMessage } from '../lib/messages.js';
import type { AcceptDeps } from '../gate/accept.js';
import { idempotencyOf, sendAccepted } from '../http/accepted.js';
import { caller } from '../http/auth.js';
import { listQuery, paged } from '../http/pagination.js';
import { need } from '../http/roles.js';
import { Id, IdempotencyHeaders, IdParam, LeadIds } from '../http/schemas.js';
import { listTrash, type TrashRow } from './trash.repo.js';
import { acceptRestore } from './trash.service.js';

/** Like the other routes that take a `lead_ids` list: 100 000 ids are ~0.8 MiB (http/body-limits.ts). */
const RESTORE_BODY_LIMIT = 2 * 1024 * 1024;

const RestoreBody = z
  .strictObject({
    job_id: Id.optional().describe('a delete_leads_bulk or delete_imported_leads job: everything it moved to the trash'),
    lead_ids: LeadIds.optional(),
  })
  .refine((b) => (b.job_id === undefined) !== (b.lead_ids === undefined), zodMessage(msg('issue.one_restore_target')));

function trashedLeadView(r: TrashRow): TrashedLead {
  return {
    lead_id: r.lead_id,
    phone: r.phone,
    name: r.name,
    deleted_at: r.deleted_at.toISOString(),
    deleted_by_job_id: r.deleted_by_job_id,
    counts: { notes: r.notes, activities: r.activities, reminders: r.reminders },
  };
}

export const trashRoutes = (pool: pg.Pool, accept: AcceptDeps): FastifyPluginAsyncZod => async (app) => {
  app.get('/trash/leads', {
    config: need('admin'),
    schema: {
      tags: ['leads'],
      summary: 'Leads in the trash (moved there by bulk deletes, purged after TRASH_RETENTION_DAYS), by lead id; job_id: of one delete job',
      querystring: z.object({ ...listQuery, job_id: IdParam.shape.id.optional() }),
      response: { 200: pageOf(TrashedLead), ...errorResponses },
    },
  }, async (request) => {
    const q = request.query;
    const businessId = caller(request).businessId;
    return paged(
      q,
      async (afterLeadId, limit) => (await listTrash(pool, businessId, { jobId: q.job_id, afterLeadId, limit })).map((r) => ({ ...r, id: r.lead_id })),
      (shown) => shown.map(trashedLeadView),
    );
  });

  app.post('/trash/restore', {
    config: need('admin'),
    bodyLimit: RESTORE_BODY_LIMIT,
    schema: {
      tags: ['leads'],
      summary: 'Put trashed leads back with their children and ids, by delete job or by ids (restore_leads job); a lead whose phone is taken meanwhile stays in the trash and counts as failed',
      headers: IdempotencyHeaders,
      body: RestoreBody,
      response: { 202: Accepted, ...errorResponses },
    },
  }, async (request, reply) => {
    const b = request.body;
    const scope = b.job_id !== undefined ? { jobId: b.job_id } : { leadIds: b.lead_ids ?? [] };
    const stored = await acceptRestore(accept, pool, caller(request), scope, idempotencyOf(request, b));
    return sendAccepted(reply, stored);
  });
};
