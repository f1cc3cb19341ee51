import pg from 'pg';
import type { Logger } from '../lib/logger.js';
import { backoffMs } from '../lib/backoff.js';
import { sleep } from '../lib/abortable.js';

export type NotificationHandler = (channel: string, payload: string) => void;

/**
 * One dedicated connection that LISTENs on the given channels and reconnects by itself (with
 * backoff) when the server restarts. `onReconnect` lets callers catch up on what they missed.
 */
export class PgListener {
  readonly #url: string;
  readonly #channels: string[];
  readonly #log: Logger;
  readonly #onNotify: NotificationHandler;
  readonly #onReconnect: () => void;
  readonly #applicationName: string;
  readonly #stop = new AbortController();
  #client: pg.Client | null = null;
  #backendPid: number | null = null;
  #loop: Promise<void> | null = null;

  constructor(opts: { url: string; channels: string[]; log: Logger; onNotify: NotificationHandler; onReconnect?: () => void; applicationName?: string }) {
    this.#url = opts.url;
    this.#applicationName = opts.applicationName ?? 'bulkhead-listener';
    this.#channels = opts.channels;
    this.#log = opts.log;
    this.#onNotify = opts.onNotify;
    this.#onReconnect = opts.onReconnect ?? (() => undefined);
  }

  /** Resolves once the first LISTEN is in place. */
  async start(): Promise<void> {
    let first: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (first = resolve));
    this.#loop = this.#run(first);
    await Promise.race([ready, this.#loop]);
  }

  async #run(onFirst: () => void): Promise<void> {
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      const client = new pg.Client({ connectionString: this.#url, application_name: this.#applicationName });
      const ended = new Promise<void>((resolve) => {
        client.on('error', (err) => {
          this.#log.warn({ err }, 'listener connection error');
          resolve();
        });
        client.on('end', () => resolve());
      });
      try {
        await client.connect();
        client.on('notification', (n) => this.#onNotify(n.channel, n.payload ?? ''));
        for (const channel of this.#channels) await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        this.#backendPid = rows[0]?.pid ?? null;
        this.#client = client;
        if (failures > 0) this.#onReconnect();
        failures = 0;
        onFirst();
        await Promise.race([ended, new Promise((r) => this.#stop.signal.addEventListener('abort', r, { once: true }))]);
      } catch (err) {
        this.#log.warn({ err }, 'listener could not connect');
      } finally {
        this.#client = null;
        this.#backendPid = null;
        await client.end().catch(() => undefined);
      }
      if (this.#stop.signal.aborted) break;
      failures += 1;
      await sleep(backoffMs(failures, 200, 5_000), this.#stop.signal);
    }
  }

  /** The server process id of the LISTEN session while connected (its identity in pg_stat_activity). */
  get backendPid(): number | null {
    return this.#backendPid;
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#client?.end().catch(() => undefined);
    await this.#loop;
  }
}
