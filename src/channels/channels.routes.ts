import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { VoiceChannel, WhatsAppChannel } from '../contract/channels.js';
import { errorResponses } from '../contract/index.js';
import { msg, zodMessage } from '../lib/messages.js';
import { caller } from '../http/auth.js';
import { need } from '../http/roles.js';
import { putVoiceChannel, putWhatsAppChannel, readVoiceChannel, readWhatsAppChannel, type ChannelsServiceDeps } from './channels.service.js';

/**
 * A secret as sent in a PUT: the secret itself, or — to keep the stored one — exactly what the GET
 * showed ("…" and its last four characters).
 */
const secret = (what: 'auth token' | 'access token' | 'app secret', min: number, max: number) =>
  z.string().regex(new RegExp(`^(?:…[\\x21-\\x7e]{4}|[\\x21-\\x7e]{${min},${max}})$`), zodMessage(msg('issue.secret_shape', { what, min, max })));

/** Twilio account sids: AC and 32 hex digits (the shape of TWILIO_ACCOUNT_SID in config.ts). */
const AccountSid = z.string().regex(/^AC[0-9a-fA-F]{32}$/, zodMessage(msg('issue.twilio_account_sid')));

const VoiceChannelBody = z.strictObject({
  caller_ids: z.array(z.string().max(40, zodMessage(msg('issue.caller_id_length')))).max(50, zodMessage(msg('issue.caller_ids_at_most', { max: 50 })))
    .describe('the numbers calls go out from, E.164 or local to the business\'s country; [] = the deployment\'s TWILIO_FROM'),
  twilio: z.strictObject({ account_sid: AccountSid, auth_token: secret('auth token', 8, 256) }).nullable().optional()
    .describe('the business\'s own Twilio subaccount; absent or null: the deployment\'s account'),
});

const WhatsAppChannelBody = z.strictObject({
  phone_number_id: z.string().regex(/^[0-9]{1,32}$/, zodMessage(msg('issue.whatsapp_phone_number_id'))),
  access_token: secret('access token', 16, 4096),
  app_secret: secret('app secret', 8, 256).nullable().optional().describe('absent or null: webhooks verified with the deployment\'s WHATSAPP_APP_SECRET'),
});

/** `/channels/voice` and `/channels/whatsapp`: read by anyone of the business (secrets are never shown), changed by admins. */
export const channelRoutes = (deps: ChannelsServiceDeps): FastifyPluginAsyncZod => async (app) => {
  app.get('/channels/voice', {
    config: need('agent'),
    schema: {
      tags: ['channels'],
      summary: 'The business\'s caller ids and Twilio subaccount (the auth token shown as "…last4")',
      response: { 200: VoiceChannel, ...errorResponses },
    },
  }, async (request) => readVoiceChannel(deps.pool, caller(request).businessId));

  app.put('/channels/voice', {
    config: need('admin'),
    schema: {
      tags: ['channels'],
      summary: 'Replace the business\'s caller ids and Twilio subaccount (audited as channel.update)',
      description: 'Caller ids are normalized to E.164 with the business\'s country; one of another business: 409 `caller_id_taken`. '
        + 'The auth token is stored encrypted and never shown again.',
      body: VoiceChannelBody,
      response: { 200: VoiceChannel, ...errorResponses },
    },
  }, async (request) => putVoiceChannel(deps, caller(request), request.body));

  app.get('/channels/whatsapp', {
    config: need('agent'),
    schema: {
      tags: ['channels'],
      summary: 'The business\'s WhatsApp sender (own: false = the deployment\'s; secrets shown as "…last4")',
      response: { 200: WhatsAppChannel, ...errorResponses },
    },
  }, async (request) => readWhatsAppChannel(deps, caller(request).businessId));

  app.put('/channels/whatsapp', {
    config: need('admin'),
    schema: {
      tags: ['channels'],
      summary: 'Set the business\'s own WhatsApp sender (audited as channel.update)',
      description: 'Broadcasts created afterwards send from it with its token; its delivery webhooks are routed by the number and verified with its app secret when it has one. '
        + 'A number of another business, or the deployment\'s shared one: 409 `phone_number_id_taken`. Secrets are stored encrypted and never shown again.',
      body: WhatsAppChannelBody,
      response: { 200: WhatsAppChannel, ...errorResponses },
    },
  }, async (request) => putWhatsAppChannel(deps, caller(request), request.body));
};
