/**
 * An HTTP proxy in front of a provider simulator that injects the faults a real provider shows:
 * a burst of 5xx answers (nothing happened), slow answers, and an answer lost after the provider
 * acted (the call was placed / the message accepted, but the client sees a 500) — the case that
 * tempts a naive client into a duplicate. Only requests matching `faulty` (creates, sends) are
 * affected; lookups pass through.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxyFaults {
  /** The next n matching requests answer 503 without reaching the provider. */
  failNext: number;
  /** Each matching request answers 503 without reaching the provider with this probability. */
  failRatio: number;
  /** The next n matching requests reach the provider, then answer 500 (the effect happened). */
  failAfterForward: number;
  /** Every matching request waits this long before it is forwarded. */
  delayMs: number;
}

export interface ProxyCounters {
  forwarded: number;
  failedBefore: number;
  failedAfter: number;
  delayed: number;
}

const NONE: ProxyFaults = { failNext: 0, failRatio: 0, failAfterForward: 0, delayMs: 0 };

export class FaultProxy {
  #faults: ProxyFaults = { ...NONE };
  #server: http.Server | null = null;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 64 });
  readonly #counts: ProxyCounters = { forwarded: 0, failedBefore: 0, failedAfter: 0, delayed: 0 };

  constructor(private readonly target: string, private readonly faulty: (method: string, path: string) => boolean) {}

  set(f: Partial<ProxyFaults>): void {
    this.#faults = { ...this.#faults, ...f };
  }

  reset(): void {
    this.#faults = { ...NONE };
  }

  counters(): ProxyCounters {
    return { ...this.#counts };
  }

  async start(): Promise<string> {
    const server = http.createServer((req, res) => void this.#handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    }));
    server.keepAliveTimeout = 30_000;
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = null;
    this.#agent.destroy();
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Over a few kept-alive connections (see src/providers/webhook-sender.ts for why not fetch). */
  #forward(method: string, url: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = http.request(this.target + url, { method, headers: { ...headers, 'content-length': String(body.length) }, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
        res.once('error', reject);
      });
      req.once('error', reject);
      req.end(body);
    });
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const f = this.#faults;
    const faulty = this.faulty(req.method ?? 'GET', (req.url ?? '').split('?')[0] ?? '');
    if (faulty && (f.failNext > 0 || (f.failRatio > 0 && Math.random() < f.failRatio))) {
      if (f.failNext > 0) f.failNext -= 1;
      this.#counts.failedBefore += 1;
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 20503, message: 'Service Unavailable (injected)', status: 503 }));
      return;
    }
    if (faulty && f.delayMs > 0) {
      this.#counts.delayed += 1;
      await new Promise((r) => setTimeout(r, f.delayMs));
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === 'string' && !['host', 'connection', 'content-length', 'transfer-encoding'].includes(k)) headers[k] = v;
    }
    const upstream = await this.#forward(req.method ?? 'GET', req.url ?? '/', headers, body);
    this.#counts.forwarded += 1;
    if (faulty && f.failAfterForward > 0) {
      f.failAfterForward -= 1;
      this.#counts.failedAfter += 1;
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 20500, message: 'Internal Server Error (injected after the provider acted)', status: 500 }));
      return;
    }
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(upstream.headers)) {
      if (typeof v === 'string' && !['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(k)) out[k] = v;
    }
    const answer = upstream.body;
    out['content-length'] = String(answer.length);
    res.writeHead(upstream.status, out);
    res.end(answer);
  }
}
