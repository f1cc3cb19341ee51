/**
 * One process holding the Twilio and WhatsApp simulators for every API and worker process of a
 * chaos run (an in-process simulator knows only the calls its own process made, so separate
 * processes must share one: TWILIO_API_BASE / WHATSAPP_API_BASE point here).
 *
 * In front of each simulator sits a small fault proxy (5xx bursts, slow answers, answers lost
 * after the provider acted), and a control server reports what the providers accepted — the
 * evidence for "no duplicate call, no duplicate message" — and switches faults on and off.
 *
 * Prints one line `{"ready":"sim","twilio":url,"whatsapp":url,"control":url}` when listening.
 * Env: SIM_CALL_MS, SIM_OUTCOMES, SIM_WHATSAPP_MPS, SIM_WEBHOOK_BASES (comma-separated API base
 * URLs; WhatsApp status webhooks go round-robin to them), TWILIO_AUTH_TOKEN, WHATSAPP_APP_SECRET.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIM_TWILIO_ACCOUNT_SID, SIM_TWILIO_AUTH_TOKEN, SIM_WHATSAPP_APP_SECRET } from '../../src/config/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { createTwilioSimulator, type SimFaults } from '../../src/providers/telephony/simulator.js';
import { WhatsAppSimulator } from '../../src/providers/whatsapp/simulator.js';
import { FaultProxy, type ProxyFaults } from './lib/fault-proxy.js';

const env = process.env;
const log = createLogger(env.LOG_LEVEL === 'debug' ? 'debug' : 'warn', 'chaos-sim');
const webhookBases = (env.SIM_WEBHOOK_BASES ?? '').split(',').filter(Boolean);
let nextBase = 0;

const twilio = createTwilioSimulator({
  accountSid: SIM_TWILIO_ACCOUNT_SID,
  authToken: env.TWILIO_AUTH_TOKEN ?? SIM_TWILIO_AUTH_TOKEN,
  callMs: Number(env.SIM_CALL_MS ?? 1500),
  outcomes: env.SIM_OUTCOMES ?? 'completed:0.8,no-answer:0.1,busy:0.1',
  log,
});
const whatsapp = new WhatsAppSimulator({
  appSecret: env.WHATSAPP_APP_SECRET ?? SIM_WHATSAPP_APP_SECRET,
  token: 'sim-whatsapp-token',
  mps: Number(env.SIM_WHATSAPP_MPS ?? 80),
  webhookUrl: () => {
    const base = webhookBases[nextBase++ % Math.max(1, webhookBases.length)];
    return base ? `${base}/webhooks/whatsapp` : null;
  },
  log,
});

/** How often each simulator call was created for one of our call ids (carried in statusCallback). */
function callsPerCallId(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of twilio.calls.values()) {
    const key = c.statusCallback ?? `no-callback:${c.sid}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function stats() {
  const perCall = callsPerCallId();
  const duplicateCalls = [...perCall].filter(([, n]) => n > 1).map(([cb, n]) => ({ callback: cb, n }));
  const perPhone = new Map<string, number>();
  for (const m of whatsapp.accepted) perPhone.set(m.to, (perPhone.get(m.to) ?? 0) + 1);
  const duplicateMessages = [...perPhone].filter(([, n]) => n > 1).map(([to, n]) => ({ to, n }));
  const active = [...twilio.calls.values()].filter((c) => ['queued', 'initiated', 'ringing', 'in-progress'].includes(c.status)).length;
  return {
    twilio: {
      calls: twilio.calls.size,
      active,
      creates: twilio.stats.creates,
      createFailures: twilio.stats.createFailures,
      callbacksSent: twilio.stats.callbacksSent,
      callbacksFailed: twilio.stats.callbacksFailed,
      recordingDownloads: [...twilio.stats.mediaDownloads.values()].reduce((a, b) => a + b, 0),
      duplicateCalls,
      proxy: twilioProxy.counters(),
    },
    whatsapp: {
      accepted: whatsapp.accepted.length,
      refusals: Object.fromEntries(whatsapp.refusals),
      webhookPosts: whatsapp.webhookPosts,
      webhookFailures: whatsapp.webhookFailures,
      duplicateMessages,
      proxy: whatsappProxy.counters(),
    },
  };
}

interface FaultRequest {
  twilio?: Partial<Omit<SimFaults, 'outcomeFor' | 'failCreates'>> & { failCreates?: number; proxy?: Partial<ProxyFaults> };
  whatsapp?: { statuses?: boolean; proxy?: Partial<ProxyFaults> };
}

function applyFaults(f: FaultRequest): void {
  if (f.twilio) {
    const { proxy, failCreates, ...rest } = f.twilio;
    Object.assign(twilio.faults, rest);
    if (failCreates !== undefined) twilio.faults.failCreates = { count: failCreates, status: 503 };
    if (proxy) twilioProxy.set(proxy);
  }
  if (f.whatsapp) {
    if (f.whatsapp.statuses !== undefined) whatsapp.setDelivery({ statuses: f.whatsapp.statuses });
    if (f.whatsapp.proxy) whatsappProxy.set(f.whatsapp.proxy);
  }
}

function resetFaults(): void {
  twilio.resetFaults();
  whatsapp.setDelivery({ statuses: true });
  twilioProxy.reset();
  whatsappProxy.reset();
}

const twilioUrl = await twilio.start();
const whatsappUrl = await whatsapp.start();
const twilioProxy = new FaultProxy(twilioUrl, (method, path) => method === 'POST' && /\/Calls\.json$/.test(path));
const whatsappProxy = new FaultProxy(whatsappUrl, (method, path) => method === 'POST' && /\/messages$/.test(path));
const twilioProxyUrl = await twilioProxy.start();
const whatsappProxyUrl = await whatsappProxy.start();

const control = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.method === 'GET' && req.url === '/stats') return reply(200, stats());
      if (req.method === 'POST' && req.url === '/faults') {
        applyFaults(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as FaultRequest);
        return reply(200, { ok: true });
      }
      if (req.method === 'POST' && req.url === '/faults/reset') {
        resetFaults();
        return reply(200, { ok: true });
      }
      if (req.method === 'POST' && req.url === '/webhook-bases') {
        const bases = JSON.parse(Buffer.concat(chunks).toString('utf8')) as string[];
        webhookBases.splice(0, webhookBases.length, ...bases);
        return reply(200, { ok: true });
      }
      reply(404, { error: 'not found' });
    } catch (err) {
      reply(400, { error: (err as Error).message });
    }
  });
});
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;

const shutdown = () => {
  control.close();
  void Promise.allSettled([twilio.stop(), whatsapp.stop(), twilioProxy.stop(), whatsappProxy.stop()]).then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

process.stdout.write(`${JSON.stringify({ ready: 'sim', twilio: twilioProxyUrl, whatsapp: whatsappProxyUrl, control: controlUrl })}\n`);
