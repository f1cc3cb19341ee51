import { z } from 'zod';
import { Int, Timestamp } from './common.js';

export const RoleName = z.enum(['owner', 'admin', 'agent']).describe('owner > admin > agent');
export type RoleName = z.infer<typeof RoleName>;

export const Me = z.object({
  user: z.object({ id: Int, email: z.string(), role: RoleName }),
  business: z.object({
    id: Int,
    name: z.string(),
    locale: z.enum(['he', 'en']).describe('the business\'s language: the dashboard opens in it unless this browser chose another'),
  }),
}).describe('Who is signed in, and in which business');
export type Me = z.infer<typeof Me>;

export const IssuedToken = Me.extend({
  token: z.string().describe('the bearer secret, shown once'),
  token_id: Int,
}).describe('Who signed in, and a bearer token of their own');
export type IssuedToken = z.infer<typeof IssuedToken>;

export const Member = z.object({
  id: Int,
  email: z.string(),
  role: RoleName,
  disabled: z.boolean(),
  status: z.enum(['active', 'invited']).describe('invited: has not set a password yet'),
  created_at: Timestamp,
  last_login_at: Timestamp.nullable(),
}).describe('A user of the business');
export type Member = z.infer<typeof Member>;

export const InvitedMember = z.object({
  user: Member,
  invite_token: z.string().describe('shown once; the invitee sets a password with it (POST /auth/accept-invite) within 7 days'),
}).describe('The invited user and the invite token');
export type InvitedMember = z.infer<typeof InvitedMember>;

export const AcceptedInvite = z.object({ user: Member }).describe('The user, who may now sign in');

export const ApiToken = z.object({
  id: Int,
  name: z.string(),
  role: RoleName,
  user_id: Int,
  user_email: z.string(),
  created_at: Timestamp,
  last_used_at: Timestamp.nullable().describe('to the minute'),
}).describe('A named API token (never its secret)');
export type ApiToken = z.infer<typeof ApiToken>;

export const CreatedApiToken = z.object({
  id: Int,
  name: z.string(),
  role: RoleName,
  token: z.string().describe('the bearer secret, shown once'),
}).describe('The new token and its secret');
export type CreatedApiToken = z.infer<typeof CreatedApiToken>;

export const AuditItem = z.object({
  id: Int,
  at: Timestamp,
  user_id: Int.nullable(),
  user_email: z.string().nullable(),
  token_id: Int.nullable().describe('the API token used, if any'),
  action: z.string().describe('e.g. job.accepted, job.pause, user.invite, token.revoke, auth.login_failed'),
  target_type: z.string().nullable(),
  target_id: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  ip: z.string().nullable(),
}).describe('An audit entry');
export type AuditItem = z.infer<typeof AuditItem>;
