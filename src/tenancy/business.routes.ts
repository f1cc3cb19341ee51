import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { errorResponses, OwnBusiness } from '../contract/index.js';
import { withTx } from '../db/pool.js';
import { caller } from '../http/auth.js';
import { need } from '../http/roles.js';
import { NotFoundError } from '../lib/errors.js';
import { msg, zodMessage } from '../lib/messages.js';
import { actorOf } from '../people/actor.js';
import { recordAudit } from '../people/audit.repo.js';
import { Country, Locale, Timezone } from './business.schemas.js';
import { getBusiness, updateBusiness, type Business } from './tenancy.repo.js';

export function ownBusinessView(b: Business): OwnBusiness {
  return {
    id: b.id,
    name: b.name,
    default_country: b.default_country,
    timezone: b.timezone,
    locale: b.locale,
    max_outbound_calls: b.max_outbound_calls,
    created_at: b.created_at.toISOString(),
  };
}

const CHANGEABLE = ['default_country', 'timezone', 'locale'] as const;

const BusinessChange = z.strictObject({
  default_country: Country.optional(),
  timezone: Timezone.optional(),
  locale: Locale.optional(),
}).refine((b) => CHANGEABLE.some((k) => b[k] !== undefined), zodMessage(msg('issue.business_change_empty')));

/**
 * `/business`: the caller's own business. Anyone of it reads it; admins and owners change its
 * country, time zone and language (audited `business.update` with the values before). The call
 * limit and the per-operation rate limits stay with the platform operator (README, "Setting up a
 * business"). There is no id in the path: a business can only ever name itself.
 */
export const businessRoutes = (pool: pg.Pool): FastifyPluginAsyncZod => async (app) => {
  app.get('/business', {
    config: need('agent'),
    schema: {
      tags: ['business'],
      summary: 'Your business: name, country, time zone, language and call limit',
      response: { 200: OwnBusiness, ...errorResponses },
    },
  }, async (request) => {
    const business = await getBusiness(pool, caller(request).businessId);
    if (!business) throw new NotFoundError('Business');
    return ownBusinessView(business);
  });

  app.patch('/business', {
    config: need('admin'),
    schema: {
      tags: ['business'],
      summary: 'Change your business\'s country, time zone or language (audited as business.update)',
      description: 'The country (ISO 3166 alpha-2, one whose phone numbers can be read) applies to local numbers typed from now on; '
        + 'stored numbers are E.164 already. Calling hours follow the new time zone at once. The language is that of server messages '
        + 'and of the dashboard for readers who did not choose one. The call limit is set by the platform operator.',
      body: BusinessChange,
      response: { 200: OwnBusiness, ...errorResponses },
    },
  }, async (request) => {
    const who = caller(request);
    const b = request.body;
    const updated = await withTx(pool, async (tx) => {
      const { rows } = await tx.query<Pick<Business, (typeof CHANGEABLE)[number]>>(
        `SELECT default_country, timezone, locale FROM businesses WHERE id = $1 FOR UPDATE`,
        [who.businessId],
      );
      const before = rows[0];
      if (!before) throw new NotFoundError('Business');
      const after = await updateBusiness(tx, who.businessId, { defaultCountry: b.default_country, timezone: b.timezone, locale: b.locale });
      if (!after) throw new NotFoundError('Business');
      const previous = Object.fromEntries(CHANGEABLE.filter((k) => b[k] !== undefined).map((k) => [k, before[k]]));
      await recordAudit(tx, {
        businessId: who.businessId,
        actor: actorOf(who),
        action: 'business.update',
        targetType: 'business',
        targetId: who.businessId,
        details: { ...b, previous },
      });
      return after;
    });
    return ownBusinessView(updated);
  });
};
