import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../lib/errors.js';
import { msg } from '../lib/messages.js';

/**
 * A budget of requests per API token and per client address, kept in this process (a token
 * bucket each). Every accepted request of a token costs 1; a refused one (any 4xx) costs 1 plus
 * REFUSED_MS_WEIGHT per millisecond the process spent on it after its body arrived (the upload
 * itself costs us nothing and a slow network is no offence), so a client looping on requests that are expensive
 * to refuse (a 2.7 MB body of invalid phones) runs out of budget after one or two, and from then
 * on is answered 429 before its body is even read — its cost to everyone else drops to nearly
 * nothing. Requests without a valid token (401, forged webhooks) are charged to the client's
 * address instead, and only when refused, so signed webhooks and many tenants behind one proxy
 * are not limited by each other.
 *
 * Per process, not shared: the resource protected is this process's event loop, and a shared
 * counter would cost a database round trip on every request. With several API processes behind a
 * balancer a client's budget is that many times larger, which is documented (README, Operations).
 */
export interface BudgetLimits {
  /** Cost units refilled per second (an accepted request costs 1). */
  perSecond: number;
  /** The most a bucket holds (the burst a quiet client may spend at once). */
  burst: number;
}

interface Bucket {
  level: number;
  at: number;
}

/**
 * Units per millisecond of a refused request: at the default 50 units/s a client that only sends
 * refusals keeps at most 10 ms/s (1%) of the event loop busy after its burst.
 */
export const REFUSED_MS_WEIGHT = 5;

/** Buckets idle for this long are full again and are forgotten. */
const FORGET_AFTER_MS = 60_000;
const MAX_BUCKETS = 100_000;

export class RequestBudget {
  readonly #buckets = new Map<string, Bucket>();

  constructor(private readonly limits: BudgetLimits, private readonly now: () => number = () => performance.now()) {}

  /** Seconds until `key` may send again (0: now). */
  waitS(key: string): number {
    const bucket = this.#refill(key);
    return bucket.level >= 1 ? 0 : (1 - bucket.level) / this.limits.perSecond;
  }

  charge(key: string, cost: number): void {
    const bucket = this.#refill(key);
    bucket.level -= cost;
    if (!this.#buckets.has(key)) {
      if (this.#buckets.size >= MAX_BUCKETS) this.#forgetIdle();
      this.#buckets.set(key, bucket);
    }
  }

  #refill(key: string): Bucket {
    const t = this.now();
    const bucket = this.#buckets.get(key);
    if (!bucket) return { level: this.limits.burst, at: t };
    bucket.level = Math.min(this.limits.burst, bucket.level + ((t - bucket.at) / 1000) * this.limits.perSecond);
    bucket.at = t;
    return bucket;
  }

  #forgetIdle(): void {
    const t = this.now();
    for (const [key, bucket] of this.#buckets) if (t - bucket.at > FORGET_AFTER_MS) this.#buckets.delete(key);
    // Still full of active clients: drop the oldest rather than grow without bound.
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size < MAX_BUCKETS) break;
      this.#buckets.delete(key);
    }
  }
}

export class RequestBudgetExceeded extends AppError {
  constructor(retryAfterS: number, who: 'token' | 'address') {
    const retry = Math.max(1, Math.ceil(retryAfterS));
    super(
      429,
      'rate_limited',
      msg('request.budget_exceeded', { who, retry }),
      { retry_after: retry, limit: who },
      { 'retry-after': String(retry) },
    );
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    budget: { start: number; token: string | null; refusedToken: boolean } | null;
  }
}

/**
 * Work a parser did while the body was still arriving (a streamed CSV), to be charged as if it had
 * come after the body: the budget's clock starts when the body ends.
 */
export function chargeWorkDuringBody(request: FastifyRequest, ms: number): void {
  if (request.budget) request.budget.start -= ms;
}

function tokenKey(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  // The secret itself is never kept, only a digest of it.
  return `t:${createHash('sha256').update(header).digest('base64url').slice(0, 22)}`;
}

/**
 * Checks the budget first of all (before the body is read or the token looked up) and charges it
 * when the answer is sent. Tenant routes are charged to their token once it authenticated.
 */
export function registerRequestBudget(app: FastifyInstance, limits: BudgetLimits): RequestBudget {
  const budget = new RequestBudget(limits);
  app.decorateRequest('budget', null);
  app.addHook('onRequest', async (request, reply) => {
    const token = tokenKey(request);
    request.budget = { start: performance.now(), token, refusedToken: false };
    const ipWait = budget.waitS(`ip:${request.ip}`);
    const tokenWait = token === null ? 0 : budget.waitS(token);
    if (ipWait === 0 && tokenWait === 0) return;
    // The body is never read: close the connection after the 429 rather than let Node drain
    // megabytes of it to keep the connection alive (a client looping on 16 MiB bodies would
    // otherwise cost the process ~200 MB/s of reading while it is refused).
    if (request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined) reply.header('connection', 'close');
    if (ipWait > 0) throw new RequestBudgetExceeded(ipWait, 'address');
    request.budget.refusedToken = true;
    throw new RequestBudgetExceeded(tokenWait, 'token');
  });
  app.addHook('preParsing', async (request, _reply, payload) => {
    const state = request.budget;
    if (state) payload.once('end', () => (state.start = performance.now()));
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    if (!request.budget) return; // refused by the router before any hook ran
    const { start, token, refusedToken } = request.budget;
    const refused = reply.statusCode >= 400 && reply.statusCode < 500;
    const cost = refused ? 1 + REFUSED_MS_WEIGHT * (performance.now() - start) : 1;
    // A token pays once it is known to be real (it authenticated, or it is the one already out of
    // budget); any other refusal is the address's.
    if (token !== null && (request.auth !== null || refusedToken)) budget.charge(token, cost);
    else if (refused) budget.charge(`ip:${request.ip}`, cost);
  });
  return budget;
}
