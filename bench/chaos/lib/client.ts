/**
 * The load clients' HTTP side: one request function that records every answer by operation and
 * status (a 5xx is evidence, never retried away), and the tenants the clients act for.
 */
import { demoRuleFor } from '../../../src/providers/whatsapp/simulator.js';
import { ADMIN_TOKEN } from './cluster.js';

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export interface OpStats {
  n: number;
  statuses: Record<string, number>;
  totalMs: number;
  maxMs: number;
}

export class HttpStats {
  readonly ops = new Map<string, OpStats>();
  readonly serverErrors: Array<{ op: string; status: number; body: string; at: number }> = [];
  networkErrors = 0;
  readonly networkErrorSamples: string[] = [];
  /** While set, 5xx and network errors are counted as "during an outage" (PostgreSQL restarting). */
  outage = false;
  outage5xx = 0;
  /** 5xx answers during outages by status (503 database_unavailable is the expected one). */
  readonly outageStatuses = new Map<number, number>();
  outageNetworkErrors = 0;

  record(op: string, status: number, ms: number, body: string): void {
    let s = this.ops.get(op);
    if (!s) this.ops.set(op, (s = { n: 0, statuses: {}, totalMs: 0, maxMs: 0 }));
    s.n += 1;
    s.statuses[status] = (s.statuses[status] ?? 0) + 1;
    s.totalMs += ms;
    s.maxMs = Math.max(s.maxMs, ms);
    if (status >= 500) {
      if (this.outage) {
        this.outage5xx += 1;
        this.outageStatuses.set(status, (this.outageStatuses.get(status) ?? 0) + 1);
      }
      else if (this.serverErrors.length < 10_000) this.serverErrors.push({ op, status, body: body.slice(0, 300), at: Date.now() });
    }
  }

  get requests(): number {
    let n = 0;
    for (const s of this.ops.values()) n += s.n;
    return n;
  }

  count(pred: (status: number) => boolean): number {
    let n = 0;
    for (const s of this.ops.values()) for (const [k, v] of Object.entries(s.statuses)) if (pred(Number(k))) n += v;
    return n;
  }

  /** 5xx outside declared outages. */
  get fiveXx(): number {
    return this.serverErrors.length;
  }
}

export class Http {
  constructor(readonly stats: HttpStats) {}

  async call<T = Record<string, unknown>>(
    base: string,
    op: string,
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; raw?: string; contentType?: string; timeoutMs?: number } = {},
  ): Promise<Answer<T> | null> {
    const started = performance.now();
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.raw !== undefined) {
      body = opts.raw;
      headers['content-type'] = opts.contentType ?? 'text/csv';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    try {
      const res = await fetch(base + path, { method, headers, body, signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) });
      const text = await res.text();
      this.stats.record(op, res.status, performance.now() - started, text);
      let parsed: unknown = {};
      if (text && (res.headers.get('content-type') ?? '').includes('json')) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = {};
        }
      }
      return { status: res.status, body: parsed as T };
    } catch (err) {
      if (this.stats.outage) this.stats.outageNetworkErrors += 1;
      else {
        this.stats.networkErrors += 1;
        if (this.stats.networkErrorSamples.length < 20) this.stats.networkErrorSamples.push(`${op}: ${(err as Error).message} ${String((err as Error).cause ?? '')}`);
      }
      return null;
    }
  }
}

export interface Tenant {
  businessId: number;
  token: string;
  maxCalls: number;
}

let phoneSeq = Math.floor(Math.random() * 1_000_000);

/**
 * A valid, never-repeated US number (+1 212 NXX XXXX). Unique per chaos process. Numbers the
 * WhatsApp simulator treats as demo failures (…99026, …99047, …99048 — the last restricts the
 * whole sender) are skipped: the scenarios inject their faults on purpose.
 */
export function uniquePhone(): string {
  for (;;) {
    phoneSeq += 1;
    const n = phoneSeq % 8_000_000;
    const phone = `+1212${200 + Math.floor(n / 10_000)}${String(n % 10_000).padStart(4, '0')}`;
    if (demoRuleFor(phone) === null) return phone;
  }
}

export async function createTenants(http: Http, base: string, count: number, opts: { maxCalls?: number; rateLimits?: Record<string, number> } = {}): Promise<Tenant[]> {
  const tenants: Tenant[] = [];
  const maxCalls = opts.maxCalls ?? 3;
  for (let start = 0; start < count; start += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, count - start) }, async (_, i) => {
      const a = await http.call<{ business: { id: number }; token: string }>(base, 'admin.create_business', 'POST', '/api/v1/admin/businesses', {
        token: ADMIN_TOKEN,
        body: { name: `chaos ${start + i}`, max_outbound_calls: maxCalls },
      });
      if (a?.status !== 201) throw new Error(`creating a business answered ${a?.status}: ${JSON.stringify(a?.body)}`);
      if (opts.rateLimits) {
        await http.call(base, 'admin.patch_business', 'PATCH', `/api/v1/admin/businesses/${a.body.business.id}`, { token: ADMIN_TOKEN, body: { rate_limits: opts.rateLimits } });
      }
      return { businessId: a.body.business.id, token: a.body.token, maxCalls };
    }));
    tenants.push(...batch);
  }
  return tenants;
}
