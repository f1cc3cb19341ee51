import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { errorResponses, WhatsAppWebhookAck } from '../contract/index.js';
import { nonJsonResponse } from '../http/schemas.js';
import { findUnstorableText } from '../http/text-guard.js';
import { AppError, ValidationError } from '../lib/errors.js';
import { issueMessage, msg, type Message } from '../lib/messages.js';
import type { Logger } from '../lib/logger.js';
import { safeEqual } from '../tenancy/tokens.js';
import { WebhookEnvelope } from '../providers/whatsapp/webhook-payload.js';
import { verifyWebhook, type OwnSender } from './webhook-senders.js';
import { handleWebhook } from './webhooks.service.js';

class ForbiddenWebhookError extends AppError {
  constructor(message: Message) {
    super(403, 'forbidden', message);
  }
}

/**
 * The raw bytes of a webhook body. A class with a private field: the app-wide NUL guard walks
 * request bodies by their own enumerable properties, and this has none (a Buffer would be
 * walked byte by byte).
 */
class RawBody {
  readonly #bytes: Buffer;
  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }
  get bytes(): Buffer {
    return this.#bytes;
  }
}

function isWhatsAppObject(json: unknown): boolean {
  return json !== null && typeof json === 'object' && (json as { object?: unknown }).object === 'whatsapp_business_account';
}

/** Cloud API payloads are small (statuses come in batches of tens); this bounds a forged one. */
const WEBHOOK_BODY_LIMIT = 1024 * 1024;

export interface WebhookDeps {
  pool: pg.Pool;
  /** WHATSAPP_APP_SECRET: verifies the deployment's sender and every business's without an app secret of its own. */
  appSecret: string;
  /** WHATSAPP_PHONE_NUMBER_ID. */
  defaultPhoneNumberId: string;
  /** The businesses' own senders among these numbers, with their app secrets (channels). */
  ownSenders: (numbers: readonly string[]) => Promise<Map<string, OwnSender>>;
  verifyToken: string;
  log: Logger;
}

/**
 * `/webhooks/whatsapp`. The body is taken as raw bytes by a content-type parser of this
 * (encapsulated) plugin only, so the signature is checked on exactly what Meta signed; JSON is
 * acted on only after the check. The key is the app secret of the numbers the body reports on
 * (webhook-senders.ts): a business's own for its own sender, else WHATSAPP_APP_SECRET. Anything
 * unsigned or forged: 403, nothing changed. A body about numbers we neither own nor ever sent
 * from is acknowledged (200) and ignored, whoever signed it: another app's webhooks, pointed here
 * by mistake, would otherwise be retried by Meta for days.
 */
export const whatsappWebhooks = (deps: WebhookDeps): FastifyPluginAsyncZod => async (app) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_req, body, done) => {
    done(null, new RawBody(body as Buffer));
  });

  app.get('/whatsapp', {
    schema: {
      tags: ['webhooks'],
      summary: 'WhatsApp webhook verification (echoes hub.challenge when hub.verify_token matches WHATSAPP_VERIFY_TOKEN)',
      querystring: z.looseObject({
        'hub.mode': z.string().max(64).optional(),
        'hub.verify_token': z.string().max(512).optional(),
        'hub.challenge': z.string().max(512).optional(),
      }),
      response: { 200: nonJsonResponse('text/plain', 'hub.challenge, echoed'), ...errorResponses },
    },
  }, async (request, reply) => {
    const q = request.query;
    const token = q['hub.verify_token'];
    if (q['hub.mode'] !== 'subscribe' || token === undefined || !safeEqual(token, deps.verifyToken) || q['hub.challenge'] === undefined) {
      throw new ForbiddenWebhookError(msg('webhooks.verify_token'));
    }
    return reply.status(200).type('text/plain; charset=utf-8').send(q['hub.challenge']);
  });

  app.post('/whatsapp', {
    schema: {
      tags: ['webhooks'],
      summary: 'WhatsApp status and inbound-message events, verified with X-Hub-Signature-256',
      description: 'A missing or wrong signature answers 403 and changes nothing.',
      response: { 200: WhatsAppWebhookAck, ...errorResponses },
    },
  }, async (request, reply) => {
    const raw = request.body instanceof RawBody ? request.body.bytes : Buffer.alloc(0);
    const verdict = await verifyWebhook(deps.pool, raw, request.headers['x-hub-signature-256'], {
      defaultAppSecret: deps.appSecret,
      defaultPhoneNumberId: deps.defaultPhoneNumberId,
      ownSenders: deps.ownSenders,
    });
    if (verdict.kind === 'unknown_numbers') {
      deps.log.info({ event: 'WHATSAPP_WEBHOOK_UNKNOWN_NUMBER', numbers: verdict.numbers.slice(0, 5) }, 'WhatsApp webhook for a number we do not send from: acknowledged and ignored');
      return reply.status(200).send({ ok: true, ignored: true });
    }
    if (verdict.kind === 'forbidden') throw new ForbiddenWebhookError(msg('webhooks.hub_signature'));
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new ValidationError(msg('webhooks.not_json'), [{ path: 'body', message: msg('issue.not_json') }]);
    }
    // Signed is not well-formed: PostgreSQL text cannot hold U+0000 or a lone surrogate (a 500).
    const unstorable = findUnstorableText(json, 'body');
    if (unstorable) {
      const { path, char, inKey } = unstorable;
      throw new ValidationError(msg('webhooks.unstorable_text', { path, char, inKey }), [{ path, message: msg('issue.unstorable_text', { char, inKey }) }]);
    }
    const parsed = WebhookEnvelope.safeParse(json);
    if (!parsed.success) {
      if (isWhatsAppObject(json)) {
        const issues = parsed.error.issues.slice(0, 20).map((i) => ({ path: ['body', ...i.path.map(String)].join('.'), message: issueMessage(i) }));
        throw new ValidationError(msg('webhooks.envelope_invalid', { issues }), issues);
      }
      // Signed by Meta but not a WhatsApp messages envelope (another object type): acknowledged, ignored.
      request.log.debug({ issues: parsed.error.issues.slice(0, 3) }, 'WhatsApp webhook ignored');
      return reply.status(200).send({ ok: true, ignored: true });
    }
    const result = await handleWebhook(deps, parsed.data, verdict.owners);
    return reply.status(200).send({ ok: true, ...result });
  });
};
