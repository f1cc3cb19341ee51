import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { AcceptedInvite, errorResponses, IssuedToken, Me } from '../contract/index.js';
import { withTx } from '../db/pool.js';
import { caller } from '../http/auth.js';
import { need } from '../http/roles.js';
import { NotFoundError } from '../lib/errors.js';
import { msg, zodMessage } from '../lib/messages.js';
import { getBusiness } from '../tenancy/tenancy.repo.js';
import { actorOf } from './actor.js';
import { recordAudit } from './audit.repo.js';
import { clearSessionCookies, setSessionCookies } from './cookies.js';
import { login, loginForToken } from './login.service.js';
import { PASSWORD_MAX, PASSWORD_MIN } from './passwords.js';
import { memberView } from './people.view.js';
import { deleteSession } from './sessions.repo.js';
import { acceptInviteWithPassword } from './users.service.js';

export interface AuthRoutesOptions {
  sessionMaxMs: number;
  secureCookies: boolean;
}

const Password = z.string().min(PASSWORD_MIN, zodMessage(msg('issue.password_min', { min: PASSWORD_MIN }))).max(PASSWORD_MAX);

export const authRoutes = (pool: pg.Pool, o: AuthRoutesOptions): FastifyPluginAsyncZod => async (app) => {
  app.post('/auth/login', {
    config: need('public'),
    schema: {
      tags: ['people'],
      summary: 'Sign in with email and password: sets the httpOnly session cookie and the bh_csrf cookie',
      description: 'Wrong email or password: 401 `invalid_credentials` (the same answer for both). More than 5 failures for one email within 15 minutes: 429 `too_many_attempts` with Retry-After.',
      security: [],
      body: z.strictObject({ email: z.string().trim().min(1).max(254), password: z.string().min(1).max(PASSWORD_MAX) }),
      response: { 200: Me, ...errorResponses },
    },
  }, async (request, reply) => {
    const done = await login(pool, {
      email: request.body.email,
      password: request.body.password,
      ip: request.ip,
      userAgent: request.headers['user-agent'] ?? null,
      sessionMaxMs: o.sessionMaxMs,
    });
    setSessionCookies(reply, done, { secure: o.secureCookies, maxMs: o.sessionMaxMs });
    return { user: done.user, business: done.business };
  });

  app.post('/auth/token', {
    config: need('public'),
    schema: {
      tags: ['people'],
      summary: 'Email and password for a bearer token of your own, with your role (what `bulkhead login` does); shown once',
      description: 'The same answers as /auth/login: 401 `invalid_credentials`, 429 `too_many_attempts`. The token is listed in GET /tokens and revoked like any other.',
      security: [],
      body: z.strictObject({ email: z.string().trim().min(1).max(254), password: z.string().min(1).max(PASSWORD_MAX), name: z.string().trim().min(1).max(100) }),
      response: { 201: IssuedToken, ...errorResponses },
    },
  }, async (request, reply) => {
    const done = await loginForToken(pool, { email: request.body.email, password: request.body.password, ip: request.ip, userAgent: request.headers['user-agent'] ?? null, tokenName: request.body.name });
    return reply.status(201).send({ user: done.user, business: done.business, token: done.token, token_id: done.tokenId });
  });

  app.post('/auth/logout', {
    config: need('agent'),
    schema: { tags: ['people'], summary: 'End this session (a bearer token stays valid: revoke it with DELETE /tokens/{id})', response: { 204: z.null().describe('Signed out'), ...errorResponses } },
  }, async (request, reply) => {
    const who = caller(request);
    if (who.sessionIdHash) {
      const idHash = who.sessionIdHash;
      await withTx(pool, async (tx) => {
        await deleteSession(tx, idHash);
        await recordAudit(tx, { businessId: who.businessId, actor: actorOf(who), action: 'auth.logout', targetType: 'user', targetId: who.userId });
      });
    }
    clearSessionCookies(reply, { secure: o.secureCookies });
    return reply.status(204).send(null);
  });

  app.post('/auth/accept-invite', {
    config: need('public'),
    schema: {
      tags: ['people'],
      summary: 'Set a password with an invite token (once, within 7 days of the invite); then sign in',
      security: [],
      body: z.strictObject({ invite_token: z.string().min(1).max(200), password: Password }),
      response: { 200: AcceptedInvite, ...errorResponses },
    },
  }, async (request) => {
    const user = await acceptInviteWithPassword(pool, request.body.invite_token, request.body.password, request.ip);
    return { user: memberView(user) };
  });

  app.get('/me', {
    config: need('agent'),
    schema: { tags: ['people'], summary: 'Who is calling: user, role and business (cookie or bearer)', response: { 200: Me, ...errorResponses } },
  }, async (request) => {
    const who = caller(request);
    const business = await getBusiness(pool, who.businessId);
    if (!business) throw new NotFoundError('Business');
    return { user: { id: who.userId, email: who.email, role: who.role }, business: { id: business.id, name: business.name, locale: business.locale } };
  });
};
