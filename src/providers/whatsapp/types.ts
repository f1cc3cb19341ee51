/**
 * The WhatsApp Cloud API as Bulkhead uses it: send one text or template message from a sender
 * number (phone_number_id) to one recipient. The real adapter and the simulator speak the same
 * HTTP protocol (cloud-api.ts talks to either), so this interface has one implementation.
 */

export type MessageContent =
  | { type: 'text'; text: string }
  | { type: 'template'; name: string; language: string; variables?: string[] | undefined };

/** The Cloud API error object: `{error: {message, type, code, error_subcode, fbtrace_id, error_data}}`. */
export interface CloudApiError {
  message: string;
  type?: string | undefined;
  code: number;
  error_subcode?: number | undefined;
  fbtrace_id?: string | undefined;
  error_data?: { messaging_product?: string; details?: string } | undefined;
}

/**
 * Whether the provider may have received the request when no answer came back. `not_sent`: the
 * connection was never made, a resend cannot duplicate. `unknown`: it may have been accepted.
 */
export type NetworkFailure = 'not_sent' | 'unknown';

export type SendResult =
  | { ok: true; messageId: string }
  | { ok: false; httpStatus: number; error: CloudApiError }
  | { ok: false; httpStatus: null; network: NetworkFailure; detail: string };

export interface SendRequest {
  /** E.164 (`+12125550100`). */
  to: string;
  content: MessageContent;
  /**
   * Sent as `biz_opaque_callback_data` (at most 512 characters): the Cloud API does not act on it
   * and echoes it in every status webhook of the message.
   */
  callbackData?: string | undefined;
}

export interface WhatsAppProvider {
  send(req: SendRequest, signal?: AbortSignal): Promise<SendResult>;
}

/** Error codes of the Cloud API that Bulkhead acts on (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes). */
export const WA_ERRORS = {
  throughput: 130429,
  pairRate: 131056,
  windowClosed: 131047,
  notOnWhatsApp: 131026,
  spamRestricted: 131048,
  accessToken: 190,
  accountLocked: 131031,
  temporarilyBlocked: 368,
  genericUser: 131000,
} as const;

/** Cloud API recipients are digits only (`wa_id`); we keep E.164 with the plus. */
export function toWaId(e164: string): string {
  return e164.replace(/^\+/, '');
}

export function fromWaId(waId: string): string {
  return waId.startsWith('+') ? waId : `+${waId}`;
}
