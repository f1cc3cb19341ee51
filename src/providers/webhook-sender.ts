import http from 'node:http';
import https from 'node:https';

/**
 * How the simulators deliver their webhooks: `node:http` over a keep-alive agent with a bounded
 * number of sockets per receiving API process, not `fetch`, which opened a new connection for
 * every webhook in flight. Measured with bench/chaos/scaling.ts (3 + 3 processes, 1 000 calls
 * ending together): bursts of new connections overflowed listen queues (6 126 overflows in one
 * run; a listener sat at 512 / 511 for seconds), and each dropped SYN came back only after 1, 3,
 * 7 s of TCP retransmission, so slots were freed seconds late. A few reused connections per
 * receiver carry the same load without a handshake per webhook.
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
