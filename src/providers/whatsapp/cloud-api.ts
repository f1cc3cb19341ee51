import { toWaId, type CloudApiError, type MessageContent, type SendRequest, type SendResult, type WhatsAppProvider } from './types.js';

export interface CloudApiOptions {
  /** `https://graph.facebook.com`, or a simulator's base URL. */
  apiBase: string;
  apiVersion: string;
  phoneNumberId: string;
  token: string;
  /** Per request; a send that takes longer has an unknown outcome (it is not resent). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export const GRAPH_API_BASE = 'https://graph.facebook.com';

/** The JSON body of `POST /{version}/{phone_number_id}/messages`. Pure (conformance-tested). */
export function buildMessageBody(req: SendRequest): Record<string, unknown> {
  const base = { messaging_product: 'whatsapp', recipient_type: 'individual', to: toWaId(req.to) };
  // Over the documented limit the API would refuse the whole message: better without it.
  const callback = req.callbackData && req.callbackData.length <= 512 ? { biz_opaque_callback_data: req.callbackData } : {};
  return { ...base, ...contentFields(req.content), ...callback };
}

function contentFields(content: MessageContent): Record<string, unknown> {
  if (content.type === 'text') return { type: 'text', text: { preview_url: false, body: content.text } };
  const variables = content.variables ?? [];
  return {
    type: 'template',
    template: {
      name: content.name,
      language: { code: content.language },
      ...(variables.length > 0
        ? { components: [{ type: 'body', parameters: variables.map((text) => ({ type: 'text', text })) }] }
        : {}),
    },
  };
}

export function messagesUrl(apiBase: string, apiVersion: string, phoneNumberId: string): string {
  return `${apiBase.replace(/\/$/, '')}/${apiVersion}/${encodeURIComponent(phoneNumberId)}/messages`;
}

/**
 * Connection failures that happen before a single byte of the request left: resending cannot
 * duplicate. Everything else (reset, headers timeout, our own timeout) may follow an accept.
 */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** The real Cloud API adapter (also what talks to the simulator): `fetch`, bearer token, JSON. */
export function createCloudApiClient(opts: CloudApiOptions): WhatsAppProvider {
  const url = messagesUrl(opts.apiBase, opts.apiVersion, opts.phoneNumberId);
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  return {
    async send(req, signal) {
      const timeout = AbortSignal.timeout(timeoutMs);
      let res: Response;
      try {
        res = await doFetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(buildMessageBody(req)),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (err) {
        const code = causeCode(err);
        return { ok: false, httpStatus: null, network: code && NOT_SENT_CODES.has(code) ? 'not_sent' : 'unknown', detail: code ?? String(err) };
      }
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        // The status line came back but the body did not: for a 2xx the message may be accepted.
        return res.ok
          ? { ok: false, httpStatus: null, network: 'unknown', detail: causeCode(err) ?? 'body lost' }
          : { ok: false, httpStatus: res.status, error: { code: 0, message: `HTTP ${res.status}` } };
      }
      return parseSendResponse(res.status, text);
    },
  };
}

/** Pure: an HTTP answer of the messages endpoint → SendResult. */
export function parseSendResponse(status: number, text: string): SendResult {
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // handled below
  }
  if (status >= 200 && status < 300) {
    const id = (json as { messages?: { id?: unknown }[] } | null)?.messages?.[0]?.id;
    if (typeof id === 'string' && id !== '') return { ok: true, messageId: id };
    return { ok: false, httpStatus: null, network: 'unknown', detail: `HTTP ${status} without a message id` };
  }
  const e = (json as { error?: Partial<CloudApiError> } | null)?.error;
  const error: CloudApiError = {
    message: typeof e?.message === 'string' ? e.message : `HTTP ${status}`,
    code: typeof e?.code === 'number' ? e.code : 0,
    type: typeof e?.type === 'string' ? e.type : undefined,
    error_subcode: typeof e?.error_subcode === 'number' ? e.error_subcode : undefined,
    fbtrace_id: typeof e?.fbtrace_id === 'string' ? e.fbtrace_id : undefined,
    error_data: e?.error_data,
  };
  return { ok: false, httpStatus: status, error };
}

function causeCode(err: unknown): string | null {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const name = (e as { name?: unknown }).name;
    if (name === 'TimeoutError' || name === 'AbortError') return name;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}
