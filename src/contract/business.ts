import { z } from 'zod';
import { Int, Timestamp } from './common.js';

/**
 * The caller's own business as its people see and change it (`GET|PATCH /api/v1/business`):
 * country, time zone and language are the business's to choose; the call limit is the
 * platform's ceiling (`PATCH /api/v1/admin/businesses/{id}`), shown here read-only.
 */
export const OwnBusiness = z.object({
  id: Int,
  name: z.string(),
  default_country: z.string().describe('ISO 3166 alpha-2: local phone numbers (leads, caller ids) are read in it'),
  timezone: z.string().describe('IANA time zone: calling hours are kept in it'),
  locale: z.enum(['he', 'en']).describe('language of server messages and of the dashboard, unless Accept-Language or the browser says otherwise'),
  max_outbound_calls: Int.describe('calls at once, set by the platform operator (read-only here)'),
  created_at: Timestamp,
}).describe('Your business');
export type OwnBusiness = z.infer<typeof OwnBusiness>;
