import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type pg from 'pg';
import type { Config } from '../../config/config.js';
import { BusinessAnswer, CreatedBusiness, CreatedUser, errorResponses, RoleName, type Business as BusinessView, type User as UserView } from '../../contract/index.js';
import { withTx } from '../../db/pool.js';
import { NotFoundError, ConflictError } from '../../lib/errors.js';
import { msg } from '../../lib/messages.js';
import { OPERATION_TYPES } from '../../gate/operations.js';
import { Country, Locale, Timezone } from '../../tenancy/business.schemas.js';
import { getBusiness, insertBusiness, insertUserWithToken, updateBusiness, type Business, type User } from '../../tenancy/tenancy.repo.js';
import { adminAuth } from '../auth.js';
import { recordAudit, type Actor } from '../../people/audit.repo.js';
import { emailInBusiness } from '../../people/users.repo.js';
import { IdParam } from '../schemas.js';

const Email = z.email().max(254);

function businessView(b: Business): BusinessView {
  return {
    id: b.id,
    name: b.name,
    max_outbound_calls: b.max_outbound_calls,
    timezone: b.timezone,
    default_country: b.default_country,
    locale: b.locale,
    rate_limits: b.rate_limits,
    created_at: b.created_at.toISOString(),
  };
}

/** The platform operator (ADMIN_TOKEN) is no user of the business: the audit shows who by address. */
function platform(request: FastifyRequest): Actor {
  return { userId: null, email: 'platform admin', ip: request.ip };
}

function userView(u: User): UserView {
  return { id: u.id, business_id: u.business_id, email: u.email, role: u.role, created_at: u.created_at.toISOString() };
}

export const adminRoutes = (pool: pg.Pool, adminToken: string, businessDefaults: Config['businessDefaults']): FastifyPluginAsyncZod => async (app) => {
  app.addHook('onRequest', adminAuth(adminToken));

  app.post('/businesses', {
    schema: {
      tags: ['admin'],
      summary: 'Create a business with its first user (an owner), that user\'s bearer token and invite',
      body: z.strictObject({
        name: z.string().trim().min(1).max(200),
        max_outbound_calls: z.number().int().min(1).max(1000).optional(),
        timezone: Timezone.optional(),
        default_country: Country.optional(),
        locale: Locale.optional(),
        email: Email.optional(),
      }),
      response: { 201: CreatedBusiness, ...errorResponses },
    },
  }, async (request, reply) => {
    const b = request.body;
    const created = await withTx(pool, async (tx) => {
      const business = await insertBusiness(tx, {
        name: b.name,
        maxOutboundCalls: b.max_outbound_calls,
        timezone: b.timezone,
        defaultCountry: b.default_country,
        locale: b.locale,
      }, businessDefaults);
      const { user, token, inviteToken } = await insertUserWithToken(tx, business.id, b.email ?? `owner@business-${business.id}.local`, 'owner');
      await recordAudit(tx, { businessId: business.id, actor: platform(request), action: 'business.create', targetType: 'business', targetId: business.id, details: { name: business.name, owner_email: user.email } });
      return { business, user, token, inviteToken };
    });
    return reply.status(201).send({ business: businessView(created.business), user: userView(created.user), token: created.token, invite_token: created.inviteToken });
  });

  app.patch('/businesses/:id', {
    schema: {
      tags: ['admin'],
      summary: 'Change a business\'s call limit, country, time zone, language or per-operation rate limits',
      params: IdParam,
      body: z.strictObject({
        max_outbound_calls: z.number().int().min(1).max(1000).optional(),
        timezone: Timezone.optional(),
        default_country: Country.optional(),
        locale: Locale.optional(),
        rate_limits: z.partialRecord(z.enum(OPERATION_TYPES), z.number().int().min(0).max(100_000)).optional(),
      }),
      response: { 200: BusinessAnswer, ...errorResponses },
    },
  }, async (request) => {
    const b = request.body;
    const business = await withTx(pool, async (tx) => {
      const updated = await updateBusiness(tx, request.params.id, {
        maxOutboundCalls: b.max_outbound_calls,
        timezone: b.timezone,
        defaultCountry: b.default_country,
        locale: b.locale,
        rateLimits: b.rate_limits as Record<string, number> | undefined,
      });
      if (!updated) throw new NotFoundError('Business');
      await recordAudit(tx, { businessId: updated.id, actor: platform(request), action: 'business.update', targetType: 'business', targetId: updated.id, details: b });
      return updated;
    });
    return { business: businessView(business) };
  });

  app.post('/businesses/:id/users', {
    schema: {
      tags: ['admin'],
      summary: 'Add a user to a business (role admin unless given) and issue its bearer token and invite',
      params: IdParam,
      body: z.strictObject({ email: Email, role: RoleName.optional() }),
      response: { 201: CreatedUser, ...errorResponses },
    },
  }, async (request, reply) => {
    const business = await getBusiness(pool, request.params.id);
    if (!business) throw new NotFoundError('Business');
    try {
      const created = await withTx(pool, async (tx) => {
        await tx.query(`SELECT 1 FROM businesses WHERE id = $1 FOR UPDATE`, [business.id]);
        if (await emailInBusiness(tx, business.id, request.body.email)) {
          throw new ConflictError('user_exists', msg('people.user_exists'));
        }
        const added = await insertUserWithToken(tx, business.id, request.body.email, request.body.role ?? 'admin');
        await recordAudit(tx, { businessId: business.id, actor: platform(request), action: 'user.create', targetType: 'user', targetId: added.user.id, details: { email: added.user.email, role: added.user.role } });
        return added;
      });
      return reply.status(201).send({ user: userView(created.user), token: created.token, invite_token: created.inviteToken });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') {
        throw new ConflictError('user_exists', msg('people.user_exists'));
      }
      throw err;
    }
  });
};
