import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { Activity, errorResponses, Lead, LeadDetail, Note, pageOf, Reminder } from '../contract/index.js';
import { caller } from '../http/auth.js';
import { listQuery, paged } from '../http/pagination.js';
import { IdParam } from '../http/schemas.js';
import { listLeads } from './leads.repo.js';
import { Email, IsoDateTime, Name, RawPhone, Slug, Tag, Tags, Text } from './leads.schemas.js';
import { addActivity, addNote, addReminder, createLead, getLead } from './leads.service.js';
import { activityView, leadDetailView, leadView, noteView, reminderView } from './leads.view.js';
import { need } from '../http/roles.js';

export const leadRoutes = (pool: pg.Pool): FastifyPluginAsyncZod => async (app) => {
  app.post('/leads', {
    config: need('agent'),
    schema: {
      tags: ['leads'],
      summary: 'Create a lead (the phone is normalized to E.164; local numbers use the business\'s default country)',
      body: z.strictObject({ phone: RawPhone, name: Name.optional(), email: Email.optional(), status: Slug.optional(), tags: Tags.optional() }),
      response: { 201: Lead, ...errorResponses },
    },
  }, async (request, reply) => {
    const lead = await createLead(pool, caller(request), request.body);
    return reply.status(201).send(leadView(lead));
  });

  app.get('/leads', {
    config: need('agent'),
    schema: {
      tags: ['leads'],
      summary: 'List leads, oldest first; q searches name, email and phone',
      querystring: z.object({
        ...listQuery,
        status: Slug.optional(),
        source: z.enum(['manual', 'import']).optional(),
        import_id: IdParam.shape.id.optional(),
        tag: Tag.optional(),
        q: z.string().max(200).optional(),
      }),
      response: { 200: pageOf(Lead), ...errorResponses },
    },
  }, async (request) => {
    const q = request.query;
    return paged(q, (afterId, limit) => listLeads(pool, caller(request).businessId, {
      status: q.status, source: q.source, importId: q.import_id, tag: q.tag, q: q.q, afterId, limit,
    }), (shown) => shown.map(leadView));
  });

  app.get('/leads/:id', {
    config: need('agent'),
    schema: {
      tags: ['leads'],
      summary: 'One lead with the counts of its notes, activities and reminders',
      params: IdParam,
      response: { 200: LeadDetail, ...errorResponses },
    },
  }, async (request) => leadDetailView(await getLead(pool, caller(request).businessId, request.params.id)));

  app.post('/leads/:id/notes', {
    config: need('agent'),
    schema: {
      tags: ['leads'],
      summary: 'Add a note to a lead',
      params: IdParam,
      body: z.strictObject({ text: Text }),
      response: { 201: Note, ...errorResponses },
    },
  }, async (request, reply) => {
    const note = await addNote(pool, caller(request), request.params.id, request.body.text);
    return reply.status(201).send(noteView(note));
  });

  app.post('/leads/:id/activities', {
    config: need('agent'),
    schema: {
      tags: ['leads'],
      summary: 'Record an activity (call, email, meeting …) on a lead',
      params: IdParam,
      body: z.strictObject({ type: Slug, text: Text }),
      response: { 201: Activity, ...errorResponses },
    },
  }, async (request, reply) => {
    const activity = await addActivity(pool, caller(request), request.params.id, request.body);
    return reply.status(201).send(activityView(activity));
  });

  app.post('/leads/:id/reminders', {
    config: need('agent'),
    schema: {
      tags: ['leads'],
      summary: 'Set a reminder on a lead',
      params: IdParam,
      body: z.strictObject({ due_at: IsoDateTime, text: Text }),
      response: { 201: Reminder, ...errorResponses },
    },
  }, async (request, reply) => {
    const reminder = await addReminder(pool, caller(request), request.params.id, { dueAt: request.body.due_at, text: request.body.text });
    return reply.status(201).send(reminderView(reminder));
  });
};
