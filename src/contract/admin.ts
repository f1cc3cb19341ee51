import { z } from 'zod';
import { Int, Timestamp } from './common.js';

export const Business = z.object({
  id: Int,
  name: z.string(),
  max_outbound_calls: Int,
  timezone: z.string(),
  default_country: z.string(),
  rate_limits: z.record(z.string(), z.number()).describe('per-operation overrides, requests per minute'),
  created_at: Timestamp,
});
export type Business = z.infer<typeof Business>;

export const User = z.object({ id: Int, business_id: Int, email: z.string(), created_at: Timestamp });
export type User = z.infer<typeof User>;

export const CreatedBusiness = z.object({ business: Business, user: User, token: z.string().describe('the user\'s bearer token, shown once') }).describe('The business, its first user and that user\'s bearer token');
export type CreatedBusiness = z.infer<typeof CreatedBusiness>;

export const BusinessAnswer = z.object({ business: Business }).describe('The business');
export type BusinessAnswer = z.infer<typeof BusinessAnswer>;

export const CreatedUser = z.object({ user: User, token: z.string().describe('the user\'s bearer token, shown once') }).describe('The user and its bearer token');
export type CreatedUser = z.infer<typeof CreatedUser>;
