import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { gmail_v1 } from '@googleapis/gmail';
import type { Logger } from '../../lib/logger.js';
import { GMAIL_UNITS } from './quota.js';
import { buildMessage, type MailSpec } from './mail-builder.js';
import { seedMailbox, SIM_MAILBOX } from './seed.js';

/*
 * Google as the Gmail receipts see it, over HTTP, so the official google-auth-library and
 * @googleapis/gmail clients are what the tests exercise:
 *
 *   GET  /o/oauth2/v2/auth        the consent page: approves at once and redirects to the
 *                                 redirect_uri with code and state, as Google does after "Allow"
 *   POST /token                   authorization_code and refresh_token grants (invalid_grant for
 *                                 a revoked or unknown grant)
 *   POST /revoke?token=           revokes a refresh or access token (and the grant behind it)
 *   GET  /gmail/v1/users/me/profile | messages?q&pageToken&maxResults | messages/{id}?format=full|raw
 *        | messages/{id}/attachments/{aid} | history?startHistoryId&pageToken
 *
 * Test hooks: add a message (the mailbox's historyId advances), expire history (history.list
 * answers 404 for older ids), revoke a grant, answer the next requests 429 or 5xx.
 *
 * Every process that runs the receipts module without GOOGLE_CLIENT_ID runs its own simulator
 * (`bulkhead api` and `bulkhead worker` apart: two). The consent happens at the API's, the sync
 * at the worker's, so a grant must be good at both: a refresh token carries its mailbox, signed
 * with the client secret, and any simulator of the same client honours it; the seeded mailbox is
 * the same in each (same ids, same order). What the test hooks change stays in their process.
 */

export const SIM_GOOGLE_CLIENT_ID = 'sim-client.apps.googleusercontent.com';
export const SIM_GOOGLE_CLIENT_SECRET = 'sim-google-client-secret';

interface StoredMessage {
  built: ReturnType<typeof buildMessage>;
  spec: MailSpec;
  historyId: number;
}

interface Mailbox {
  email: string;
  messages: StoredMessage[];
  historyId: number;
  /** history.list answers 404 for a startHistoryId below this (Gmail keeps about a week). */
  historyFloor: number;
}

interface Grant {
  email: string;
  refreshToken: string;
  revoked: boolean;
}

export interface GoogleSimulatorOptions {
  clientId?: string;
  clientSecret?: string;
  /** The seeded mailbox's clock (default now). */
  now?: () => Date;
  log?: Logger;
}

/** What the simulator was asked, for tests that count (no retry storm). */
export interface SimulatorCounts {
  token: number;
  gmail: number;
  revoke: number;
}

export class GoogleSimulator {
  readonly #opts: Required<Pick<GoogleSimulatorOptions, 'clientId' | 'clientSecret'>> & GoogleSimulatorOptions;
  readonly #mailboxes = new Map<string, Mailbox>();
  readonly #codes = new Map<string, { email: string; redirectUri: string; clientId: string }>();
  readonly #grants = new Map<string, Grant>();
  readonly #accessTokens = new Map<string, { grant: Grant; expiresAt: number }>();
  /** What the next Gmail requests answer: null = as usual. */
  #failures: Array<{ status: number; retryAfterS: number } | null> = [];
  /** Quota units each mailbox spent, and when (Gmail's per-user quota is 250 units per second). */
  readonly #spent = new Map<string, Array<{ at: number; units: number }>>();
  readonly #answered = new Map<string, Array<{ at: number; failed: number | null }>>();
  #server: http.Server | null = null;
  #url = '';
  #nextId = 0x18c0000000000000n;
  readonly counts: SimulatorCounts = { token: 0, gmail: 0, revoke: 0 };

  constructor(opts: GoogleSimulatorOptions = {}) {
    this.#opts = { clientId: SIM_GOOGLE_CLIENT_ID, clientSecret: SIM_GOOGLE_CLIENT_SECRET, ...opts };
    const box = this.#mailbox(SIM_MAILBOX);
    for (const spec of seedMailbox(this.#now())) this.#store(box, spec);
  }

  /** The ids users.messages.list answers for `q`, in its order (newest first). */
  messageIds(q: string, email = SIM_MAILBOX): string[] {
    return this.#mailbox(email).messages.filter((s) => matchesQuery(s.spec, q, this.#now())).reverse().map((s) => s.built.message.id ?? '');
  }

  get url(): string {
    return this.#url;
  }

  /** Where google-auth-library's endpoints point (OAuth2Client `endpoints`). */
  get endpoints() {
    return { oauth2AuthBaseUrl: `${this.#url}/o/oauth2/v2/auth`, oauth2TokenUrl: `${this.#url}/token`, oauth2RevokeUrl: `${this.#url}/revoke` };
  }

  async start(): Promise<string> {
    if (this.#server) return this.#url;
    const server = http.createServer((req, res) => void this.#handle(req, res));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.#url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.#opts.log?.info({ url: this.#url }, 'Google (OAuth + Gmail) simulator listening');
    return this.#url;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ── Test hooks ────────────────────────────────────────────────────────────────────────────

  /** New mail arrives: the mailbox's historyId advances and history.list reports it. */
  addMessage(spec: MailSpec, email = SIM_MAILBOX): string {
    return this.#store(this.#mailbox(email), spec).built.message.id ?? '';
  }

  /** history.list answers 404 for every historyId handed out so far (Gmail's expired history). */
  expireHistory(email = SIM_MAILBOX): void {
    const box = this.#mailbox(email);
    box.historyId += 1;
    box.historyFloor = box.historyId;
  }

  /** The user removed our access (or the grant expired): every token of the mailbox stops working. */
  revokeGrant(email = SIM_MAILBOX): void {
    for (const g of this.#grants.values()) if (g.email === email) g.revoked = true;
  }

  /**
   * The next Gmail API requests answer these statuses (429, 500, 503 …), one each, in order —
   * after `after` requests answered as usual (a failure in the middle of a batch) — with this
   * Retry-After.
   */
  failNext(statuses: number[], after = 0, retryAfterS = 1): void {
    this.#failures.push(...Array.from({ length: after }, () => null), ...statuses.map((status) => ({ status, retryAfterS })));
  }

  /** The most quota units the mailbox spent within any `windowMs` (Gmail counts 250 per user per second). */
  peakUnits(email = SIM_MAILBOX, windowMs = 1_000): number {
    const spent = this.#spent.get(email) ?? [];
    let peak = 0;
    let sum = 0;
    let from = 0;
    for (const s of spent) {
      sum += s.units;
      while ((spent[from]?.at ?? s.at) <= s.at - windowMs) sum -= spent[from++]?.units ?? 0;
      peak = Math.max(peak, sum);
    }
    return peak;
  }

  /** When the Gmail requests of a mailbox arrived (ms since the epoch), and the failNext status each got (null: none). */
  requestTimes(email = SIM_MAILBOX): Array<{ at: number; failed: number | null }> {
    return [...(this.#answered.get(email) ?? [])];
  }

  /** Failures set by failNext not answered yet. */
  get pendingFailures(): number {
    return this.#failures.length;
  }

  /** Whether any grant of this mailbox is still valid (disconnect revoked it, or not). */
  hasLiveGrant(email = SIM_MAILBOX): boolean {
    return [...this.#grants.values()].some((g) => g.email === email && !g.revoked);
  }

  // ── Mailboxes ─────────────────────────────────────────────────────────────────────────────

  #now(): Date {
    return this.#opts.now?.() ?? new Date();
  }

  #mailbox(email: string): Mailbox {
    let box = this.#mailboxes.get(email);
    if (!box) {
      box = { email, messages: [], historyId: 1000, historyFloor: 0 };
      this.#mailboxes.set(email, box);
    }
    return box;
  }

  #store(box: Mailbox, spec: MailSpec): StoredMessage {
    this.#nextId += 0x1f3n;
    box.historyId += 1;
    const stored = { built: buildMessage(this.#nextId.toString(16), spec), spec, historyId: box.historyId };
    box.messages.push(stored);
    return stored;
  }

  // ── HTTP ──────────────────────────────────────────────────────────────────────────────────

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', this.#url);
      const body = await readBody(req);
      if (req.method === 'GET' && url.pathname === '/o/oauth2/v2/auth') return this.#consent(url, res);
      if (req.method === 'POST' && url.pathname === '/token') return this.#token(new URLSearchParams(body), req, res);
      if (req.method === 'POST' && url.pathname === '/revoke') return this.#revoke(url.searchParams.get('token') ?? new URLSearchParams(body).get('token') ?? '', res);
      if (url.pathname.startsWith('/gmail/v1/users/')) return this.#gmail(req, url, res);
      json(res, 404, { error: { code: 404, message: 'Not Found', status: 'NOT_FOUND' } });
    } catch (err) {
      this.#opts.log?.error({ err }, 'Google simulator failed a request');
      if (!res.headersSent) json(res, 500, { error: { code: 500, message: 'Internal error', status: 'INTERNAL' } });
    }
  }

  #consent(url: URL, res: http.ServerResponse): void {
    const q = url.searchParams;
    const redirectUri = q.get('redirect_uri');
    if (q.get('client_id') !== this.#opts.clientId || !redirectUri || q.get('response_type') !== 'code') {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('Error 400: invalid_request');
      return;
    }
    const code = `4/0A${randomBytes(24).toString('base64url')}`;
    this.#codes.set(code, { email: q.get('login_hint') ?? SIM_MAILBOX, redirectUri, clientId: this.#opts.clientId });
    const target = new URL(redirectUri);
    target.searchParams.set('code', code);
    const state = q.get('state');
    if (state !== null) target.searchParams.set('state', state);
    target.searchParams.set('scope', q.get('scope') ?? '');
    res.writeHead(302, { location: target.toString() }).end();
  }

  #token(form: URLSearchParams, req: http.IncomingMessage, res: http.ServerResponse): void {
    this.counts.token += 1;
    const [basicId, basicSecret] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString('utf8').split(':');
    const clientId = form.get('client_id') ?? basicId;
    const secret = form.get('client_secret') ?? basicSecret;
    if (clientId !== this.#opts.clientId || secret !== this.#opts.clientSecret) {
      json(res, 401, { error: 'invalid_client', error_description: 'The OAuth client was not found.' });
      return;
    }
    const grantType = form.get('grant_type');
    if (grantType === 'authorization_code') {
      const code = this.#codes.get(form.get('code') ?? '');
      this.#codes.delete(form.get('code') ?? '');
      if (!code || code.redirectUri !== form.get('redirect_uri')) {
        json(res, 400, { error: 'invalid_grant', error_description: 'Malformed auth code.' });
        return;
      }
      const grant: Grant = { email: code.email, refreshToken: this.#signedRefreshToken(code.email), revoked: false };
      this.#grants.set(grant.refreshToken, grant);
      json(res, 200, { ...this.#accessToken(grant), refresh_token: grant.refreshToken });
      return;
    }
    if (grantType === 'refresh_token') {
      const grant = this.#grantOf(form.get('refresh_token') ?? '');
      if (!grant || grant.revoked) {
        json(res, 400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
        return;
      }
      json(res, 200, this.#accessToken(grant));
      return;
    }
    json(res, 400, { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${grantType ?? ''}` });
  }

  /** `1//0g` + mailbox and nonce + an HMAC under the client secret: another simulator of this client can check it. */
  #signedRefreshToken(email: string): string {
    const body = Buffer.from(JSON.stringify({ e: email, n: randomBytes(12).toString('base64url') })).toString('base64url');
    return `1//0g${body}.${this.#mac(body)}`;
  }

  #mac(body: string): string {
    return createHmac('sha256', this.#opts.clientSecret).update(body).digest('base64url');
  }

  /** A grant this simulator gave, or one another simulator of this client gave (then known here from now on). */
  #grantOf(refreshToken: string): Grant | null {
    const known = this.#grants.get(refreshToken);
    if (known) return known;
    const m = /^1\/\/0g([\w-]+)\.([\w-]+)$/.exec(refreshToken);
    if (!m?.[1] || !m[2]) return null;
    const mac = Buffer.from(this.#mac(m[1]));
    const given = Buffer.from(m[2]);
    if (mac.length !== given.length || !timingSafeEqual(mac, given)) return null;
    const claims: unknown = JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8'));
    const email = typeof claims === 'object' && claims !== null && 'e' in claims && typeof claims.e === 'string' ? claims.e : null;
    if (email === null) return null;
    const grant: Grant = { email, refreshToken, revoked: false };
    this.#grants.set(refreshToken, grant);
    return grant;
  }

  #accessToken(grant: Grant) {
    const token = `ya29.${randomBytes(32).toString('base64url')}`;
    this.#accessTokens.set(token, { grant, expiresAt: Date.now() + 3_600_000 });
    return { access_token: token, expires_in: 3599, scope: 'https://www.googleapis.com/auth/gmail.readonly', token_type: 'Bearer' };
  }

  #revoke(token: string, res: http.ServerResponse): void {
    this.counts.revoke += 1;
    const grant = this.#grantOf(token) ?? this.#accessTokens.get(token)?.grant;
    if (!grant) {
      json(res, 400, { error: 'invalid_token', error_description: 'Token expired or revoked' });
      return;
    }
    grant.revoked = true;
    json(res, 200, {});
  }

  #gmail(req: http.IncomingMessage, url: URL, res: http.ServerResponse): void {
    this.counts.gmail += 1;
    const access = this.#accessTokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!access || access.grant.revoked || access.expiresAt < Date.now()) {
      json(res, 401, { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } });
      return;
    }
    const box = this.#mailbox(access.grant.email);
    const path = url.pathname.replace(/^\/gmail\/v1\/users\/(me|[^/]+)/, '');
    const now = Date.now();
    const spent = this.#spent.get(box.email) ?? [];
    spent.push({ at: now, units: unitsOf(path) });
    this.#spent.set(box.email, spent);
    const answered = this.#answered.get(box.email) ?? [];
    this.#answered.set(box.email, answered);
    const failure = this.#failures.shift();
    if (failure !== undefined && failure !== null) {
      const code = failure.status;
      answered.push({ at: now, failed: code });
      const status = code === 429 ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE';
      res.setHeader('retry-after', String(failure.retryAfterS));
      json(res, code, { error: { code, message: code === 429 ? 'Too many concurrent requests for user.' : 'Backend Error', status, errors: [{ reason: code === 429 ? 'rateLimitExceeded' : 'backendError', domain: 'global' }] } });
      return;
    }
    answered.push({ at: now, failed: null });
    const q = url.searchParams;
    let m: RegExpExecArray | null;
    if (req.method !== 'GET') {
      json(res, 405, { error: { code: 405, message: 'Method not allowed', status: 'FAILED_PRECONDITION' } });
    } else if (path === '/profile') {
      json(res, 200, { emailAddress: box.email, messagesTotal: box.messages.length, threadsTotal: box.messages.length, historyId: String(box.historyId) });
    } else if (path === '/messages') {
      const matching = box.messages.filter((s) => matchesQuery(s.spec, q.get('q') ?? '', this.#now())).reverse();
      const page = pageOf(matching, q.get('pageToken'), Number(q.get('maxResults') ?? 100));
      json(res, 200, {
        ...(page.items.length > 0 ? { messages: page.items.map((s) => ({ id: s.built.message.id, threadId: s.built.message.threadId })) } : {}),
        ...(page.next ? { nextPageToken: page.next } : {}),
        resultSizeEstimate: matching.length,
      });
    } else if ((m = /^\/messages\/([0-9a-f]+)\/attachments\/([\w-]+)$/.exec(path))) {
      const bytes = box.messages.find((s) => s.built.message.id === m?.[1])?.built.attachments.get(m[2] ?? '');
      if (!bytes) notFound(res);
      else json(res, 200, { size: bytes.length, data: bytes.toString('base64url') });
    } else if ((m = /^\/messages\/([0-9a-f]+)$/.exec(path))) {
      const stored = box.messages.find((s) => s.built.message.id === m?.[1]);
      if (!stored) notFound(res);
      else if (q.get('format') === 'raw') {
        const { payload: _payload, ...rest } = stored.built.message;
        json(res, 200, { ...rest, historyId: String(stored.historyId), raw: stored.built.raw });
      } else json(res, 200, { ...stored.built.message, historyId: String(stored.historyId) });
    } else if (path === '/history') {
      const start = Number(q.get('startHistoryId'));
      if (!Number.isSafeInteger(start) || start <= 0) {
        json(res, 400, { error: { code: 400, message: 'Invalid startHistoryId', status: 'INVALID_ARGUMENT' } });
      } else if (start < box.historyFloor) {
        notFound(res);
      } else {
        const added = box.messages.filter((s) => s.historyId > start);
        const page = pageOf(added, q.get('pageToken'), Number(q.get('maxResults') ?? 100));
        const history: gmail_v1.Schema$History[] = page.items.map((s) => ({
          id: String(s.historyId),
          messages: [{ id: s.built.message.id ?? null, threadId: s.built.message.threadId ?? null }],
          messagesAdded: [{ message: { id: s.built.message.id ?? null, threadId: s.built.message.threadId ?? null, labelIds: s.built.message.labelIds ?? null } }],
        }));
        json(res, 200, { ...(history.length > 0 ? { history } : {}), ...(page.next ? { nextPageToken: page.next } : {}), historyId: String(box.historyId) });
      }
    } else {
      notFound(res);
    }
  }
}

/** Gmail's price of a request, by its path under users/me (quota.ts). */
function unitsOf(path: string): number {
  if (path === '/profile') return GMAIL_UNITS.profile;
  if (path === '/history') return GMAIL_UNITS.history;
  if (path === '/messages') return GMAIL_UNITS.list;
  if (path.includes('/attachments/')) return GMAIL_UNITS.attachment;
  return GMAIL_UNITS.get;
}

function pageOf<T>(items: T[], token: string | null, maxResults: number): { items: T[]; next: string | null } {
  const size = Number.isSafeInteger(maxResults) && maxResults > 0 ? Math.min(maxResults, 500) : 100;
  const offset = token && /^\d+$/.test(token) ? Number(token) : 0;
  const slice = items.slice(offset, offset + size);
  return { items: slice, next: offset + size < items.length ? String(offset + size) : null };
}

/**
 * The part of Gmail's search the receipts use: `newer_than:<n>d|m|y`, `{a b "c d"}` (any of),
 * and plain words or quoted phrases (all of), matched case-blind in the subject, sender and text.
 */
export function matchesQuery(spec: MailSpec, q: string, now: Date): boolean {
  const haystack = `${spec.subject}\n${spec.from}\n${spec.text ?? ''}\n${spec.html ?? ''}`.toLowerCase();
  const terms = (s: string) => [...s.matchAll(/"([^"]+)"|(\S+)/g)].map((t) => (t[1] ?? t[2] ?? '').toLowerCase());
  let rest = q;
  for (const g of q.matchAll(/\{([^}]*)\}/g)) {
    if (!terms(g[1] ?? '').some((t) => haystack.includes(t))) return false;
    rest = rest.replace(g[0], ' ');
  }
  for (const t of terms(rest)) {
    const age = /^newer_than:(\d+)([dmy])$/.exec(t);
    if (age) {
      const days = Number(age[1]) * (age[2] === 'd' ? 1 : age[2] === 'm' ? 30.44 : 365.25);
      if (spec.date.getTime() < now.getTime() - days * 86_400_000) return false;
    } else if (!haystack.includes(t)) return false;
  }
  return true;
}

function notFound(res: http.ServerResponse): void {
  json(res, 404, { error: { code: 404, message: 'Requested entity was not found.', status: 'NOT_FOUND', errors: [{ reason: 'notFound', domain: 'global' }] } });
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(body));
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
