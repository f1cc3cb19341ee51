import { z } from 'zod';
import { Int, Timestamp } from './common.js';

export const Business = z.object({
  id: Int,
  name: z.string(),
  max_outbound_calls: Int,
  timezone: z.string(),
  default_country: z.string().describe('ISO 3166 alpha-2: local phone numbers are read in it'),
  locale: z.enum(['he', 'en']).describe('language of server messages and the dashboard, unless Accept-Language says otherwise'),
  rate_limits: z.record(z.string(), z.number()).describe('per-operation overrides, requests per minute'),
  created_at: Timestamp,
});
export type Business = z.infer<typeof Business>;

export const User = z.object({ id: Int, business_id: Int, email: z.string(), role: z.enum(['owner', 'admin', 'agent']), created_at: Timestamp });
export type User = z.infer<typeof User>;

const InviteToken = z.string().describe('shown once: the user sets a password with it (POST /api/v1/auth/accept-invite) within 7 days, then signs in');

export const CreatedBusiness = z.object({
  business: Business,
  user: User.describe('the first user, an owner'),
  token: z.string().describe('the user\'s bearer token for scripts, shown once'),
  invite_token: InviteToken,
}).describe('The business, its first user (owner), that user\'s bearer token and invite');
export type CreatedBusiness = z.infer<typeof CreatedBusiness>;

export const BusinessAnswer = z.object({ business: Business }).describe('The business');
export type BusinessAnswer = z.infer<typeof BusinessAnswer>;

export const CreatedUser = z.object({ user: User, token: z.string().describe('the user\'s bearer token, shown once'), invite_token: InviteToken }).describe('The user, its bearer token and its invite');
export type CreatedUser = z.infer<typeof CreatedUser>;
