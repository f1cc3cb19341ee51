import { createHash } from 'node:crypto';
import type pg from 'pg';
import { WhatsAppSimulator, type WhatsAppSimulatorOptions } from '../../src/providers/whatsapp/simulator.js';
import { SIM_WHATSAPP_APP_SECRET } from '../../src/config/config.js';
import type { RecipientCounts } from '../../src/broadcasts/recipient-status.js';
import { createTenant, startTestEnv, waitFor, type Tenant, type TestEnv, type TestEnvOptions } from '../helpers/harness.js';

export const SIM_TOKEN = 'sim-whatsapp-token';
export const PHONE_NUMBER_ID = '100000000000001';

export interface BroadcastEnv {
  env: TestEnv;
  sim: WhatsAppSimulator;
  /** While held, the simulator keeps its status webhooks queued (posted in order once released). */
  holdWebhooks(on: boolean): void;
  close(): Promise<void>;
}

/**
 * A test API (listening, so the simulator can post webhooks to it) whose broadcasts module talks
 * to a simulator owned by the test (WHATSAPP_API_BASE): the test can script it and read what it
 * accepted, and it outlives any worker process the test kills.
 */
export async function startBroadcastEnv(
  simOpts: Partial<WhatsAppSimulatorOptions> = {},
  envOpts: TestEnvOptions = {},
): Promise<BroadcastEnv> {
  let base = '';
  let held = false;
  const sim = new WhatsAppSimulator({
    appSecret: SIM_WHATSAPP_APP_SECRET,
    token: SIM_TOKEN,
    mps: 1000,
    webhookUrl: () => (base && !held ? `${base}/webhooks/whatsapp` : null),
    ...simOpts,
  });
  const simUrl = await sim.start();
  const env = await startTestEnv({ listen: true, ...envOpts, env: { WHATSAPP_API_BASE: simUrl, ...envOpts.env } });
  base = env.baseUrl;
  return {
    env,
    sim,
    holdWebhooks(on) {
      held = on;
    },
    async close() {
      await sim.stop();
      await env.close();
    },
  };
}

/** n distinct valid US numbers (+1 212 555 xxxx, +1 646 555 xxxx …) starting at `from`. */
export function phones(n: number, from = 0, area = '212'): string[] {
  return Array.from({ length: n }, (_, i) => `+1${area}555${String(from + i).padStart(4, '0')}`);
}

export async function api(env: TestEnv, t: Tenant, method: 'GET' | 'POST', url: string, payload?: unknown) {
  const res = await env.app.inject({ method, url, headers: t.headers, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> & { error?: { code: string; message: string; details?: { issues?: { path: string }[] } } } };
}

export interface BroadcastView {
  id: number;
  job_id: number;
  status: string;
  counts: RecipientCounts;
  total: number;
  error: string | null;
}

export async function getBroadcast(env: TestEnv, t: Tenant, id: number): Promise<BroadcastView> {
  const res = await api(env, t, 'GET', `/api/v1/whatsapp/broadcasts/${id}`);
  if (res.status !== 200) throw new Error(`GET broadcast ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as unknown as BroadcastView;
}

export function sumCounts(counts: RecipientCounts): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

export async function recipientRows(pool: pg.Pool, broadcastId: number) {
  const { rows } = await pool.query<{ phone: string; status: string; reason: string | null; attempts: number; message_id: string | null; error_code: number | null }>(
    `SELECT phone, status, reason, attempts, message_id, error_code FROM whatsapp_recipients WHERE broadcast_id = $1 ORDER BY id`,
    [broadcastId],
  );
  return rows;
}

/** Waits until no recipient is queued or sending and the simulator has posted every status. */
export async function waitForSettled(b: BroadcastEnv, t: Tenant, id: number, timeoutMs = 60_000): Promise<BroadcastView> {
  await waitFor(async () => {
    const v = await getBroadcast(b.env, t, id);
    return v.counts.queued === 0 && v.counts.sending === 0;
  }, `broadcast ${id} settled`, timeoutMs);
  await b.sim.drained();
  return getBroadcast(b.env, t, id);
}

export function sha(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export { createTenant };
