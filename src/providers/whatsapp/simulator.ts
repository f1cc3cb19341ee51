import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/logger.js';
import { WebhookSender } from '../webhook-sender.js';
import { SlidingWindow } from './rate-window.js';
import { signBody } from './signature.js';
import { fromWaId, toWaId, WA_ERRORS } from './types.js';
import { buildEnvelope, type DeliveryStatus, type StatusEvent } from './webhook-payload.js';

/** A sender number's credentials: the token its sends must carry, the app secret its webhooks are signed with. */
export interface SimNumber {
  token: string;
  appSecret: string;
}

export interface WhatsAppSimulatorOptions {
  /** Signs the webhooks of every number not registered otherwise (X-Hub-Signature-256). */
  appSecret: string;
  /** The bearer token it expects for every number not registered otherwise. */
  token: string;
  /**
   * The numbers of other businesses (other apps): looked up on a send for a number not added
   * with addNumber. The in-process simulator reads the businesses' channels (what Meta would
   * know of them); null or absent: the default token and app secret.
   */
  resolveNumber?: (phoneNumberId: string) => Promise<SimNumber | null>;
  /** Accepted messages per second per sender number (a sliding window each); beyond it, error 130429. */
  mps: number;
  /** Minimum time between two messages to one recipient; closer ones get 131056. Default 6 s. */
  pairIntervalMs?: number;
  /** Where to post status webhooks (read at each post: the API may start after us). null = keep them. */
  webhookUrl: () => string | null;
  /** Delay before the first status of a message is posted. Default 20 ms. */
  statusDelayMs?: number;
  /** Post `read` after `delivered`. Default true. */
  read?: boolean;
  /** `reversed`: the statuses of each message arrive newest first (read, delivered, sent). */
  statusOrder?: 'in_order' | 'reversed';
  /** Every n-th status event is posted twice (0: never). Deterministic. */
  duplicateEvery?: number;
  /** Added to every send's answer (a real API takes ~100–300 ms). */
  latencyMs?: number;
  /** Webhooks are batched: one POST per this many ms with every status due. Default 25. */
  flushMs?: number;
  /** No status webhooks at all (benchmarks that measure sending alone). */
  statuses?: boolean;
  log?: Logger;
}

export interface AcceptedMessage {
  id: string;
  /** E.164. */
  to: string;
  type: string;
  phoneNumberId: string;
  at: number;
  /** The last four characters of the bearer token the send carried. */
  tokenTail: string;
  /** The send's `biz_opaque_callback_data`, echoed in each of its status webhooks. */
  callbackData: string | null;
}

interface FailureRule {
  code: number;
  remaining: number;
  /** Accept the message, then report the failure in a `failed` status webhook (as the real API often does). */
  async: boolean;
}

interface QueuedEvent {
  dueAt: number;
  phoneNumberId: string;
  /** Of the number's app, as it was when the message was accepted. */
  appSecret: string;
  status: StatusEvent;
}

const ERROR_TEXT: Record<number, { http: number; message: string; details: string }> = {
  [WA_ERRORS.throughput]: { http: 400, message: '(#130429) Rate limit hit', details: 'Cloud API message throughput has been reached.' },
  [WA_ERRORS.pairRate]: { http: 400, message: '(#131056) (Business Account, Consumer Account) pair rate limit hit', details: 'Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.' },
  [WA_ERRORS.notOnWhatsApp]: { http: 400, message: '(#131026) Message undeliverable', details: 'Unable to deliver message: the recipient is not a WhatsApp user.' },
  [WA_ERRORS.windowClosed]: { http: 400, message: '(#131047) Re-engagement message', details: 'More than 24 hours have passed since the recipient last replied to the sender number.' },
  [WA_ERRORS.spamRestricted]: { http: 400, message: '(#131048) Spam rate limit hit', details: 'Message failed to send because there are restrictions on how many messages can be sent from this phone number.' },
  [WA_ERRORS.accessToken]: { http: 401, message: 'Invalid OAuth access token - Cannot parse access token', details: '' },
};

/**
 * Demo numbers with a fixed behaviour, so `npm start` users can see every error class:
 * an E.164 number ending in 99026 is not on WhatsApp, 99047 has a closed 24-hour window,
 * 99048 gets the sender restricted for spam.
 */
export function demoRuleFor(e164: string): number | null {
  if (e164.endsWith('99026')) return WA_ERRORS.notOnWhatsApp;
  if (e164.endsWith('99047')) return WA_ERRORS.windowClosed;
  if (e164.endsWith('99048')) return WA_ERRORS.spamRestricted;
  return null;
}

/**
 * The WhatsApp Cloud API, simulated over HTTP on 127.0.0.1: `POST /{version}/{phone_number_id}/messages`
 * with a bearer token, the real error objects, and signed status webhooks posted back. It keeps a
 * record of every message it accepted, which is what at-most-once tests assert on.
 *
 * Several senders: each number has its own throughput window, its own token (a registered
 * number refuses any other with 190, as the API refuses a token without access to the number)
 * and its own app, whose secret signs that number's webhooks. Numbers not registered (addNumber,
 * resolveNumber) share the default token and app secret.
 */
export class WhatsAppSimulator {
  readonly accepted: AcceptedMessage[] = [];
  /** Refusals by error code. */
  readonly refusals = new Map<number, number>();
  /** When each throughput refusal (130429) happened (ms), for diagnosing pacing. */
  readonly throttledAt: number[] = [];
  webhookPosts = 0;
  webhookFailures = 0;
  #opts: WhatsAppSimulatorOptions;
  #mps: number;
  readonly #windows = new Map<string, SlidingWindow>();
  readonly #numbers = new Map<string, SimNumber>();
  readonly #lastToRecipient = new Map<string, number>();
  readonly #acceptedByPhone = new Map<string, number>();
  #holdAfter: number | null = null;
  readonly #held: Array<() => void> = [];
  readonly #rules = new Map<string, FailureRule>();
  #restricted = false;
  #queue: QueuedEvent[] = [];
  #eventNo = 0;
  #inFlight = new Set<Promise<void>>();
  readonly #sender = new WebhookSender();
  #server: http.Server | null = null;
  #timer: NodeJS.Timeout | null = null;
  #url = '';
  #stopped: Promise<void> | null = null;

  constructor(opts: WhatsAppSimulatorOptions) {
    this.#opts = opts;
    this.#mps = opts.mps;
  }

  get url(): string {
    return this.#url;
  }

  async start(): Promise<string> {
    if (this.#server) return this.#url;
    const server = http.createServer((req, res) => void this.#handle(req, res));
    server.keepAliveTimeout = 30_000;
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    this.#url = `http://127.0.0.1:${port}`;
    this.#timer = setInterval(() => this.#flush(), this.#opts.flushMs ?? 25);
    this.#timer.unref();
    this.#opts.log?.info({ url: this.#url, mps: this.#opts.mps }, 'WhatsApp simulator listening');
    return this.#url;
  }

  /** Idempotent. Status events not yet posted are dropped. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      if (this.#timer) clearInterval(this.#timer);
      await Promise.allSettled([...this.#inFlight]);
      this.#sender.close();
      const server = this.#server;
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    })();
    return this.#stopped;
  }

  /** Changes how statuses are delivered from now on (tests script out-of-order and duplicate webhooks). */
  setDelivery(opts: Pick<WhatsAppSimulatorOptions, 'statusOrder' | 'duplicateEvery' | 'read' | 'statuses'>): void {
    this.#opts = { ...this.#opts, ...opts };
  }

  /** Every number's rate from now on (their windows start empty). */
  setMps(mps: number): void {
    this.#mps = mps;
    this.#windows.clear();
  }

  /** A number of its own app: sends must carry `token`, its webhooks are signed with `appSecret`. */
  addNumber(phoneNumberId: string, account: SimNumber): void {
    this.#numbers.set(phoneNumberId, account);
  }

  /**
   * Tests: from the `n`th accepted message on, accept and record messages but keep their answers
   * until releaseAnswers() — a provider that took the message and whose answer is still on the
   * way, so a test can kill a worker with sends provably in flight.
   */
  holdAnswersAfter(n: number): void {
    this.#holdAfter = n;
  }

  /** How many accepted messages wait for their answer. */
  get heldAnswers(): number {
    return this.#held.length;
  }

  releaseAnswers(): void {
    this.#holdAfter = null;
    for (const send of this.#held.splice(0)) send();
  }

  /** The messages accepted from this sender number. */
  acceptedFrom(phoneNumberId: string): AcceptedMessage[] {
    return this.accepted.filter((m) => m.phoneNumberId === phoneNumberId);
  }

  async #accountOf(phoneNumberId: string): Promise<SimNumber> {
    const own = this.#numbers.get(phoneNumberId) ?? (await this.#opts.resolveNumber?.(phoneNumberId)) ?? null;
    return own ?? { token: this.#opts.token, appSecret: this.#opts.appSecret };
  }

  #windowOf(phoneNumberId: string): SlidingWindow {
    let w = this.#windows.get(phoneNumberId);
    if (!w) this.#windows.set(phoneNumberId, (w = new SlidingWindow(this.#mps)));
    return w;
  }

  /** Answer `code` for this number, `times` times (default: always). */
  failFor(e164: string, code: number, opts: { times?: number; async?: boolean } = {}): void {
    this.#rules.set(e164, { code, remaining: opts.times ?? Number.POSITIVE_INFINITY, async: opts.async ?? false });
  }

  /** From now on every send answers 131048 (the sender is restricted for spam). */
  restrictSender(on = true): void {
    this.#restricted = on;
  }

  acceptedCount(e164: string): number {
    return this.#acceptedByPhone.get(e164) ?? 0;
  }

  /** Resolves once every status event produced so far has been posted (or given up on). */
  async drained(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length > 0 || this.#inFlight.size > 0) {
      if (Date.now() > deadline) throw new Error(`simulator: ${this.#queue.length} status events still queued`);
      this.#flush();
      await Promise.allSettled([...this.#inFlight]);
      if (this.#queue.length > 0) await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** An inbound text message from a user (e.g. "STOP"), posted as a signed webhook. Returns the HTTP status. */
  async sendInbound(fromE164: string, text: string, phoneNumberId = '100000000000001'): Promise<number> {
    const envelope = buildEnvelope(phoneNumberId, {
      messages: [{ from: toWaId(fromE164), id: newMessageId(), timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: text } }],
    });
    return this.#post(JSON.stringify(envelope), (await this.#accountOf(phoneNumberId)).appSecret);
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req, 64 * 1024).catch(() => null);
    const latency = this.#opts.latencyMs ?? 0;
    const answer = (status: number, json: unknown) => {
      const send = () => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      if (latency > 0) setTimeout(send, latency);
      else send();
    };
    const match = /^\/v\d+\.\d+\/([^/]+)\/messages$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match?.[1]) return answer(404, apiError(100, 'Unknown path components'));
    const phoneNumberId = decodeURIComponent(match[1]);
    const account = await this.#accountOf(phoneNumberId).catch(() => null);
    if (!account) return answer(500, apiError(1, 'An unknown error has occurred.'));
    if (req.headers.authorization !== `Bearer ${account.token}`) return answer(401, errorBody(WA_ERRORS.accessToken));
    const msg = parseJson(body) as { messaging_product?: unknown; to?: unknown; type?: unknown; biz_opaque_callback_data?: unknown } | null;
    if (!msg || msg.messaging_product !== 'whatsapp' || typeof msg.to !== 'string' || !/^\+?\d{6,15}$/.test(msg.to)) {
      return answer(400, apiError(100, '(#100) Invalid parameter'));
    }
    if (msg.type !== 'text' && msg.type !== 'template') return answer(400, apiError(100, '(#100) Invalid parameter: type'));
    const callbackData = msg.biz_opaque_callback_data;
    if (callbackData !== undefined && (typeof callbackData !== 'string' || callbackData.length > 512)) {
      return answer(400, apiError(100, '(#100) Invalid parameter: biz_opaque_callback_data'));
    }
    const to = fromWaId(msg.to);
    const now = Date.now();
    const refuse = (code: number) => {
      this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1);
      const text = ERROR_TEXT[code];
      answer(text?.http ?? 400, errorBody(code));
    };
    if (this.#restricted) return refuse(WA_ERRORS.spamRestricted);
    if (!this.#windowOf(phoneNumberId).tryAcquire(now)) {
      this.throttledAt.push(now);
      return refuse(WA_ERRORS.throughput);
    }
    const rule = this.#ruleFor(to);
    if (rule && !rule.async) return refuse(rule.code);
    const last = this.#lastToRecipient.get(to);
    if (last !== undefined && now - last < (this.#opts.pairIntervalMs ?? 6_000)) return refuse(WA_ERRORS.pairRate);
    this.#lastToRecipient.set(to, now);

    const id = newMessageId();
    this.accepted.push({ id, to, type: msg.type, phoneNumberId, at: now, tokenTail: account.token.slice(-4), callbackData: callbackData ?? null });
    this.#acceptedByPhone.set(to, (this.#acceptedByPhone.get(to) ?? 0) + 1);
    this.#scheduleStatuses(id, to, phoneNumberId, account.appSecret, now, rule?.async ? rule.code : null, callbackData ?? null);
    const ok = () => answer(200, { messaging_product: 'whatsapp', contacts: [{ input: msg.to, wa_id: toWaId(to) }], messages: [{ id, message_status: 'accepted' }] });
    // A held answer to a client that died meanwhile goes nowhere; that is the point.
    if (this.#holdAfter !== null && this.accepted.length >= this.#holdAfter) this.#held.push(() => { if (!res.destroyed) ok(); });
    else ok();
  }

  #ruleFor(e164: string): FailureRule | null {
    const rule = this.#rules.get(e164);
    if (rule && rule.remaining > 0) {
      rule.remaining -= 1;
      return rule;
    }
    const demo = demoRuleFor(e164);
    if (demo === WA_ERRORS.spamRestricted) this.#restricted = true;
    return demo === null ? null : { code: demo, remaining: 0, async: false };
  }

  #scheduleStatuses(id: string, to: string, phoneNumberId: string, appSecret: string, acceptedAt: number, asyncFailure: number | null, callbackData: string | null): void {
    if (this.#opts.statuses === false) return;
    const second = Math.floor(acceptedAt / 1000);
    const steps: { status: DeliveryStatus; errors?: StatusEvent['errors'] }[] = asyncFailure !== null
      ? [{ status: 'sent' }, { status: 'failed', errors: [{ code: asyncFailure, title: ERROR_TEXT[asyncFailure]?.message ?? 'failed' }] }]
      : [{ status: 'sent' }, { status: 'delivered' }, ...(this.#opts.read === false ? [] : [{ status: 'read' as const }])];
    const events = steps.map((s, i): StatusEvent => ({
      id,
      status: s.status,
      timestamp: String(second + i),
      recipient_id: toWaId(to),
      // Where the Cloud API puts it: in each `statuses[]` entry of the message, sent to failed.
      ...(callbackData !== null ? { biz_opaque_callback_data: callbackData } : {}),
      ...(s.errors ? { errors: s.errors } : {}),
    }));
    if (this.#opts.statusOrder === 'reversed') events.reverse();
    const delay = this.#opts.statusDelayMs ?? 20;
    events.forEach((status, i) => {
      const dueAt = Date.now() + delay + i;
      this.#queue.push({ dueAt, phoneNumberId, appSecret, status });
      this.#eventNo += 1;
      const every = this.#opts.duplicateEvery ?? 0;
      if (every > 0 && this.#eventNo % every === 0) this.#queue.push({ dueAt: dueAt + 1, phoneNumberId, appSecret, status });
    });
  }

  #flush(): void {
    if (this.#queue.length === 0) return;
    const url = this.#opts.webhookUrl();
    if (!url) return;
    const now = Date.now();
    const due = this.#queue.filter((e) => e.dueAt <= now);
    if (due.length === 0) return;
    this.#queue = this.#queue.filter((e) => e.dueAt > now);
    // One POST per sender number (and app) and at most 100 statuses each, in queue order: the
    // order in which the receiver sees them is the order chosen above (reversed, duplicated …).
    // Each is signed with the app secret of its number's app, as Meta signs each app's webhooks.
    for (let i = 0; i < due.length; i += 100) {
      const chunk = due.slice(i, i + 100);
      const byNumber = new Map<string, { appSecret: string; statuses: StatusEvent[] }>();
      for (const e of chunk) {
        const key = `${e.phoneNumberId}\u0000${e.appSecret}`;
        const group = byNumber.get(key) ?? { appSecret: e.appSecret, statuses: [] };
        group.statuses.push(e.status);
        byNumber.set(key, group);
      }
      for (const [key, group] of byNumber) {
        const pnid = key.slice(0, key.indexOf('\u0000'));
        this.#track(this.#post(JSON.stringify(buildEnvelope(pnid, { statuses: group.statuses })), group.appSecret).then(() => undefined));
      }
    }
  }

  #track(p: Promise<void>): void {
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }

  async #post(body: string, appSecret: string): Promise<number> {
    const url = this.#opts.webhookUrl();
    if (!url) return 0;
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      try {
        const status = await this.#sender.post(url, { 'content-type': 'application/json', 'x-hub-signature-256': signBody(body, appSecret) }, body, 10_000);
        this.webhookPosts += 1;
        if (status < 500) return status;
      } catch (err) {
        this.#opts.log?.debug({ err, attempt }, 'simulator webhook post failed');
      }
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
    this.webhookFailures += 1;
    this.#opts.log?.warn({ url }, 'simulator gave up posting a webhook');
    return 0;
  }
}

function parseJson(body: Buffer | null): unknown {
  if (body === null) return null;
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}

function newMessageId(): string {
  return `wamid.${randomBytes(24).toString('base64url')}`;
}

function errorBody(code: number): { error: Record<string, unknown> } {
  const text = ERROR_TEXT[code];
  return {
    error: {
      message: text?.message ?? `(#${code}) error`,
      type: 'OAuthException',
      code,
      ...(code === WA_ERRORS.accessToken ? { error_subcode: 2_494_005 } : {}),
      error_data: { messaging_product: 'whatsapp', details: text?.details ?? '' },
      fbtrace_id: randomBytes(8).toString('base64url'),
    },
  };
}

function apiError(code: number, message: string): { error: Record<string, unknown> } {
  return { error: { message, type: 'OAuthException', code, fbtrace_id: randomBytes(8).toString('base64url') } };
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
