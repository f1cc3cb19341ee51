import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { ApiToken, AuditItem, CreatedApiToken, errorResponses, InvitedMember, Member, pageOf, RoleName } from '../contract/index.js';
import { withTx } from '../db/pool.js';
import { caller } from '../http/auth.js';
import { listQuery, paged } from '../http/pagination.js';
import { allows, need } from '../http/roles.js';
import { IdParam } from '../http/schemas.js';
import { ForbiddenError, NotFoundError } from '../lib/errors.js';
import { msg, zodMessage } from '../lib/messages.js';
import { actorOf } from './actor.js';
import { listAudit, recordAudit } from './audit.repo.js';
import { auditView, memberView, tokenView } from './people.view.js';
import { ROLE_RANK } from './roles.js';
import { deleteToken, getToken, insertToken, listTokens } from './tokens.repo.js';
import { listUsers } from './users.repo.js';
import { changeUser, inviteUser } from './users.service.js';

const Email = z.email().max(254);

/** Users, API tokens and the audit trail of the caller's business: admin and owner only. */
export const peopleRoutes = (pool: pg.Pool): FastifyPluginAsyncZod => async (app) => {
  app.get('/users', {
    config: need('admin'),
    schema: { tags: ['people'], summary: 'The business\'s users', querystring: z.object(listQuery), response: { 200: pageOf(Member), ...errorResponses } },
  }, async (request) => paged(request.query, (after, limit) => listUsers(pool, caller(request).businessId, after, limit), (rows) => rows.map(memberView)));

  app.post('/users', {
    config: need('admin'),
    schema: {
      tags: ['people'],
      summary: 'Invite a user: answers the invite token once (the invitee sets a password with it)',
      description: 'A role above the caller\'s own: 403 `forbidden`. An email already in this business: 409 `user_exists`; one that signs in elsewhere: 409 `email_taken`.',
      body: z.strictObject({ email: Email, role: RoleName }),
      response: { 201: InvitedMember, ...errorResponses },
    },
  }, async (request, reply) => {
    const { user, inviteToken } = await inviteUser(pool, caller(request), request.body.email, request.body.role);
    return reply.status(201).send({ user: memberView(user), invite_token: inviteToken });
  });

  app.patch('/users/:id', {
    config: need('admin'),
    schema: {
      tags: ['people'],
      summary: 'Change a user\'s role or disable them (signs them out everywhere)',
      description: 'Leaving the business without an enabled owner: 409 `last_owner`. Touching an owner or granting owner needs the owner role.',
      params: IdParam,
      body: z.strictObject({ role: RoleName.optional(), disabled: z.boolean().optional() })
        .refine((b) => b.role !== undefined || b.disabled !== undefined, zodMessage(msg('issue.role_or_disabled'))),
      response: { 200: Member, ...errorResponses },
    },
  }, async (request) => memberView(await changeUser(pool, caller(request), request.params.id, request.body)));

  app.get('/tokens', {
    config: need('admin'),
    schema: { tags: ['people'], summary: 'The business\'s API tokens (names and roles, never secrets)', querystring: z.object(listQuery), response: { 200: pageOf(ApiToken), ...errorResponses } },
  }, async (request) => paged(request.query, (after, limit) => listTokens(pool, caller(request).businessId, after, limit), (rows) => rows.map(tokenView)));

  app.post('/tokens', {
    config: need('admin'),
    schema: {
      tags: ['people'],
      summary: 'Create a named API token for yourself; the secret is answered once',
      description: 'The role defaults to yours and cannot exceed it (403 `forbidden`).',
      body: z.strictObject({ name: z.string().trim().min(1).max(100), role: RoleName.optional() }),
      response: { 201: CreatedApiToken, ...errorResponses },
    },
  }, async (request, reply) => {
    const who = caller(request);
    const role = request.body.role ?? who.role;
    if (ROLE_RANK[role] > ROLE_RANK[who.role]) throw new ForbiddenError(role, msg('auth.token_role_above_yours', { yours: who.role }));
    const created = await withTx(pool, async (tx) => {
      const t = await insertToken(tx, { businessId: who.businessId, userId: who.userId, name: request.body.name, role });
      await recordAudit(tx, { businessId: who.businessId, actor: actorOf(who), action: 'token.create', targetType: 'token', targetId: t.row.id, details: { name: t.row.name, role } });
      return t;
    });
    return reply.status(201).send({ id: created.row.id, name: created.row.name, role: created.row.role, token: created.token });
  });

  // Agents may revoke their own tokens (what `bulkhead logout` does); anyone else's needs admin.
  app.delete('/tokens/:id', {
    config: need('agent'),
    schema: {
      tags: ['people'],
      summary: 'Revoke a token: its next request gets 401 (your own with any role; others\' needs admin)',
      params: IdParam,
      response: { 204: z.null().describe('Revoked'), ...errorResponses },
    },
  }, async (request, reply) => {
    const who = caller(request);
    await withTx(pool, async (tx) => {
      const t = await getToken(tx, who.businessId, request.params.id);
      if (!t) throw new NotFoundError('Token');
      if (t.user_id !== who.userId && !allows(who.role, 'admin')) throw new ForbiddenError('admin');
      if (ROLE_RANK[t.role] > ROLE_RANK[who.role]) throw new ForbiddenError(t.role, msg('auth.revoke_needs_role', { role: t.role }));
      await deleteToken(tx, who.businessId, t.id);
      await recordAudit(tx, { businessId: who.businessId, actor: actorOf(who), action: 'token.revoke', targetType: 'token', targetId: t.id, details: { name: t.name, role: t.role, user_id: t.user_id } });
    });
    return reply.status(204).send(null);
  });

  app.get('/audit', {
    config: need('admin'),
    schema: {
      tags: ['people'],
      summary: 'The audit trail, newest first',
      querystring: z.object({
        ...listQuery,
        action: z.string().max(64).optional(),
        user_id: z.coerce.number().int().positive().optional(),
        target_type: z.string().max(32).optional(),
        target_id: z.string().max(64).optional(),
      }),
      response: { 200: pageOf(AuditItem), ...errorResponses },
    },
  }, async (request) => {
    const q = request.query;
    return paged(q, (beforeId, limit) => listAudit(pool, caller(request).businessId, { action: q.action, userId: q.user_id, targetType: q.target_type, targetId: q.target_id, beforeId, limit }), (rows) => rows.map(auditView));
  });
};
