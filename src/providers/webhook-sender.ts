import http from 'node:http';
import https from 'node:https';

/**
 * How the simulators deliver their webhooks: `node:http` over a keep-alive agent with a bounded
 * number of sockets per API process, not `fetch`. Measured (bench/chaos/scaling.ts, 2026-11-23):
 * `fetch` opens a new connection for every webhook in flight, so a burst of call endings opened
 * hundreds of connections at once; the receivers' listen queues (511) overflowed and the lost
 * SYNs came back after 1, 3, 7 s of TCP retransmission — slots were freed seconds late and
 * calls/s *fell* as processes were added. A few reused connections per receiver carry the same
 * load without a single new handshake.
 */
const AGENT_OPTIONS = { keepAlive: true, maxSockets: 32, maxFreeSockets: 32, timeout: 30_000 };

export class WebhookSender {
  readonly #http = new http.Agent(AGENT_OPTIONS);
  readonly #https = new https.Agent(AGENT_OPTIONS);

  /** POSTs `body`; resolves with the HTTP status, rejects on a network error or after `timeoutMs`. */
  post(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<number> {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(target, {
        method: 'POST',
        agent: secure ? this.#https : this.#http,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        signal: AbortSignal.timeout(timeoutMs),
      }, (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', reject);
      });
      req.once('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}
