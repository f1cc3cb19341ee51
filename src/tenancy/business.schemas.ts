import { isSupportedCountry } from 'libphonenumber-js';
import { z } from 'zod';
import { isTimeZone } from '../config/config.js';
import { msg, zodMessage } from '../lib/messages.js';

/**
 * What a business may be set to, whoever sets it: the platform operator
 * (`PATCH /admin/businesses/{id}`) or the business's own admins (`PATCH /business`).
 */
export const Timezone = z.string().min(1).max(64).refine(isTimeZone, zodMessage(msg('issue.timezone')));
export const Country = z.string()
  .regex(/^[A-Z]{2}$/, zodMessage(msg('issue.country_code')))
  .refine(isSupportedCountry, zodMessage(msg('issue.country_unsupported')));
export const Locale = z.enum(['he', 'en']);
