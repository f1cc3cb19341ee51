import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseQuery } from 'node:querystring';
import twilio from 'twilio';
import type { Logger } from '../../lib/logger.js';
import type { ProviderCallStatus } from './types.js';
import { WebhookSender } from '../webhook-sender.js';
import { sineWav } from './wav.js';

export type SimOutcome = 'completed' | 'busy' | 'no-answer' | 'failed';

/** `completed:0.8,no-answer:0.1,busy:0.1` → cumulative weights (SIM_OUTCOMES of API.md). */
export function parseOutcomes(spec: string): Array<{ outcome: SimOutcome; weight: number }> {
  const out: Array<{ outcome: SimOutcome; weight: number }> = [];
  for (const part of spec.split(',')) {
    const [name, w] = part.split(':').map((s) => s.trim());
    if (name !== 'completed' && name !== 'busy' && name !== 'no-answer' && name !== 'failed') throw new Error(`SIM_OUTCOMES: unknown outcome "${name}"`);
    const weight = Number(w ?? '1');
    if (!Number.isFinite(weight) || weight < 0) throw new Error(`SIM_OUTCOMES: bad weight for ${name}`);
    out.push({ outcome: name, weight });
  }
  if (out.reduce((s, o) => s + o.weight, 0) <= 0) throw new Error('SIM_OUTCOMES: weights sum to 0');
  return out;
}

export function pickOutcome(weights: Array<{ outcome: SimOutcome; weight: number }>, r: number): SimOutcome {
  const total = weights.reduce((s, o) => s + o.weight, 0);
  let x = r * total;
  for (const o of weights) {
    if (x < o.weight) return o.outcome;
    x -= o.weight;
  }
  return weights.at(-1)?.outcome ?? 'completed';
}

/** Fault injection for tests; change fields on `sim.faults` at any time. */
export interface SimFaults {
  /** The next `count` create-call requests answer `status` without creating a call. */
  failCreates: { count: number; status: number };
  /** The next n create-call requests create the call and then answer 500 (the call exists). */
  createThenFail: number;
  /** Wait this long before answering create-call. */
  createDelayMs: number;
  /** Answer create-call only after the call's final status callback was delivered. */
  answerAfterFinal: boolean;
  /** Deliver every callback twice. */
  duplicateCallbacks: boolean;
  /** Deliver the intermediate callbacks after the final one. */
  reorderCallbacks: boolean;
  /** The final status callback of the next n calls is never sent. */
  dropFinalCallbacks: number;
  /** Forces the outcome by destination number. */
  outcomeFor: ((to: string) => SimOutcome | undefined) | null;
}

const NO_FAULTS: SimFaults = {
  failCreates: { count: 0, status: 500 },
  createThenFail: 0,
  createDelayMs: 0,
  answerAfterFinal: false,
  duplicateCallbacks: false,
  reorderCallbacks: false,
  dropFinalCallbacks: 0,
  outcomeFor: null,
};

export interface SimCall {
  sid: string;
  /** The account it was created in (the deployment's, or a business's subaccount). */
  accountSid: string;
  /** That account's auth token, which signs the call's callbacks. */
  authToken: string;
  to: string;
  from: string;
  status: ProviderCallStatus;
  createdAt: Date;
  answeredAt: Date | null;
  endedAt: Date | null;
  durationS: number | null;
  outcome: SimOutcome;
  statusCallback: string | null;
  events: string[];
  recordingCallback: string | null;
  record: boolean;
  recordingSid: string | null;
  timeLimitS: number | null;
  timers: NodeJS.Timeout[];
  /** Resolves when the final callback went out (or was dropped). */
  finalDelivered: Promise<void>;
  /** performance.now() when the final status callback was sent (benchmarks time refills from it). */
  finalSentAt: number | null;
}

export interface SimStats {
  creates: number;
  createFailures: number;
  callbacksSent: number;
  callbacksFailed: number;
  mediaDownloads: Map<string, number>;
}

export interface TwilioSimulatorOptions {
  /** The main account: its credentials are always accepted. */
  accountSid: string;
  authToken: string;
  /**
   * The auth tokens of another account (a business's subaccount): looked up for an account not
   * added with addAccount. The in-process simulator reads the businesses' channels.
   */
  resolveAccount?: (accountSid: string) => Promise<readonly string[]>;
  callMs: number;
  outcomes: string;
  log: Logger;
  random?: () => number;
}

export interface TwilioSimulator {
  readonly url: string;
  readonly calls: Map<string, SimCall>;
  readonly stats: SimStats;
  faults: SimFaults;
  /** Called for each call created (benchmarks time refills with it). */
  onCreate: ((call: SimCall, atMs: number) => void) | null;
  /** Called as each final status callback is sent (before the service answers it). */
  onFinalSent: ((call: SimCall, atMs: number) => void) | null;
  /** Called after each final status callback was answered by the service. */
  onFinalDelivered: ((call: SimCall, atMs: number) => void) | null;
  callMs: number;
  resetFaults(): void;
  /** Another account (a subaccount): its calls are its own, its callbacks signed with its token. */
  addAccount(accountSid: string, authToken: string): void;
  start(port?: number): Promise<string>;
  stop(): Promise<void>;
}

const ACTIVE: ReadonlySet<ProviderCallStatus> = new Set(['queued', 'initiated', 'ringing', 'in-progress']);

function sid(prefix: string): string {
  return prefix + randomBytes(16).toString('hex');
}

function rfc2822(d: Date | null): string | null {
  return d ? d.toUTCString().replace('GMT', '+0000') : null;
}

/**
 * Twilio's REST API for the calls Bulkhead makes, as an HTTP server: create / fetch / list /
 * hang up calls, list a call's recordings, serve recording media; each call rings and ends after
 * callMs (jittered ±25 %) with an outcome drawn from SIM_OUTCOMES and posts signed status and
 * recording callbacks to the URLs it was given, exactly as Twilio does (form-encoded,
 * X-Twilio-Signature over the full URL plus sorted params, keyed by the auth token).
 *
 * Several accounts (the main one and subaccounts): each request authenticates as the account
 * its path names (`/Accounts/{sid}/…`, basic auth with that sid and its token), sees only that
 * account's calls and recordings, and a call's callbacks carry its account's sid and are signed
 * with its token.
 */
export function createTwilioSimulator(opts: TwilioSimulatorOptions): TwilioSimulator {
  const random = opts.random ?? Math.random;
  const weights = parseOutcomes(opts.outcomes);
  const calls = new Map<string, SimCall>();
  const recordings = new Map<string, SimCall>();
  const stats: SimStats = { creates: 0, createFailures: 0, callbacksSent: 0, callbacksFailed: 0, mediaDownloads: new Map() };
  const baseOf = (accountSid: string) => `/2010-04-01/Accounts/${accountSid}`;
  const accounts = new Map<string, string[]>([[opts.accountSid, [opts.authToken]]]);
  const basic = (sid: string, token: string) => `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`;
  let server: Server | null = null;
  let url = '';
  let stopped = false;
  const sender = new WebhookSender();
  const wav = new Map<number, Buffer>();
  const finalResolvers = new Map<string, () => void>();

  const sim: TwilioSimulator = {
    get url() {
      return url;
    },
    calls,
    stats,
    faults: structuredCloneFaults(),
    onCreate: null,
    onFinalSent: null,
    onFinalDelivered: null,
    callMs: opts.callMs,
    resetFaults() {
      sim.faults = structuredCloneFaults();
    },
    addAccount(accountSid, authToken) {
      accounts.set(accountSid, [...(accounts.get(accountSid) ?? []), authToken]);
    },
    async start(port = 0) {
      server = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          opts.log.warn({ err }, 'twilio simulator: request failed');
          if (!res.headersSent) send(res, 500, { code: 20500, message: 'Internal Server Error', status: 500 });
        });
      });
      server.keepAliveTimeout = 30_000;
      await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
      const addr = server.address() as AddressInfo;
      url = `http://127.0.0.1:${addr.port}`;
      return url;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const c of calls.values()) for (const t of c.timers) clearTimeout(t);
      sender.close();
      const s = server;
      server = null;
      if (s) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };

  function structuredCloneFaults(): SimFaults {
    return { ...NO_FAULTS, failCreates: { ...NO_FAULTS.failCreates } };
  }

  function callJson(c: SimCall) {
    return {
      sid: c.sid,
      account_sid: c.accountSid,
      to: c.to,
      to_formatted: c.to,
      from: c.from,
      from_formatted: c.from,
      status: c.status,
      start_time: rfc2822(c.answeredAt ?? c.createdAt),
      end_time: rfc2822(c.endedAt),
      duration: c.durationS === null ? null : String(c.durationS),
      direction: 'outbound-api',
      api_version: '2010-04-01',
      date_created: rfc2822(c.createdAt),
      date_updated: rfc2822(new Date()),
      parent_call_sid: null,
      price: null,
      uri: `${baseOf(c.accountSid)}/Calls/${c.sid}.json`,
      subresource_uris: { recordings: `${baseOf(c.accountSid)}/Calls/${c.sid}/Recordings.json` },
    };
  }

  function recordingJson(c: SimCall) {
    return {
      sid: c.recordingSid,
      account_sid: c.accountSid,
      call_sid: c.sid,
      status: 'completed',
      duration: String(Math.max(1, c.durationS ?? 1)),
      channels: 1,
      source: 'OutboundAPI',
      date_created: rfc2822(c.endedAt),
      uri: `${baseOf(c.accountSid)}/Recordings/${c.recordingSid}.json`,
      media_url: `https://api.twilio.com${baseOf(c.accountSid)}/Recordings/${c.recordingSid}`,
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [pathname = '', query = ''] = (req.url ?? '').split('?');
    const account = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})\//.exec(pathname)?.[1];
    if (account === undefined) return notFound(res);
    const tokens = accounts.get(account) ?? (await opts.resolveAccount?.(account)) ?? [];
    const authToken = tokens.find((t) => req.headers.authorization === basic(account, t));
    if (authToken === undefined) {
      return send(res, 401, { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
    }
    const rest = pathname.slice(baseOf(account).length);
    const own = (c: SimCall | undefined): SimCall | undefined => (c?.accountSid === account ? c : undefined);
    const form = req.method === 'POST' ? parseQuery(await readBody(req)) : {};
    const q = parseQuery(query);
    let m: RegExpExecArray | null;
    if (rest === '/Calls.json' && req.method === 'POST') return createCall(form, res, account, authToken);
    if (rest === '/Calls.json' && req.method === 'GET') {
      const after = typeof q['StartTime>'] === 'string' ? Date.parse(q['StartTime>']) : NaN;
      const list = [...calls.values()].filter(
        (c) => c.accountSid === account && (q.To === undefined || c.to === q.To) && (q.From === undefined || c.from === q.From) && (Number.isNaN(after) || c.createdAt.getTime() >= after),
      );
      return send(res, 200, page('calls', list.map(callJson), rest));
    }
    if ((m = /^\/Calls\/(CA[0-9a-f]{32})\.json$/.exec(rest))) {
      const c = own(calls.get(m[1] ?? ''));
      if (!c) return notFound(res);
      if (req.method === 'POST') {
        const status = one(form.Status);
        if ((status === 'completed' || status === 'canceled') && ACTIVE.has(c.status)) {
          finish(c, c.status === 'in-progress' ? 'completed' : 'canceled');
        }
      }
      return send(res, 200, callJson(c));
    }
    if ((m = /^\/Calls\/(CA[0-9a-f]{32})\/Recordings\.json$/.exec(rest))) {
      const c = own(calls.get(m[1] ?? ''));
      return send(res, 200, page('recordings', c?.recordingSid ? [recordingJson(c)] : [], rest));
    }
    if ((m = /^\/Recordings\/(RE[0-9a-f]{32})(\.wav)?$/.exec(rest)) && req.method === 'GET') {
      const recSid = m[1] ?? '';
      const c = own(recordings.get(recSid));
      if (!c) return notFound(res);
      stats.mediaDownloads.set(recSid, (stats.mediaDownloads.get(recSid) ?? 0) + 1);
      const seconds = Math.min(10, Math.max(1, c.durationS ?? 1));
      let audio = wav.get(seconds);
      if (!audio) wav.set(seconds, (audio = sineWav(seconds)));
      res.writeHead(200, { 'content-type': 'audio/x-wav', 'content-length': audio.length });
      res.end(audio);
      return;
    }
    return notFound(res);
  }

  async function createCall(form: Record<string, string | string[] | undefined>, res: ServerResponse, accountSid: string, authToken: string): Promise<void> {
    const to = one(form.To);
    const from = one(form.From);
    if (!to || !from || (!form.Twiml && !form.Url && !form.ApplicationSid)) {
      return send(res, 400, { code: 21205, message: 'To, From and one of Url, Twiml, ApplicationSid are required', status: 400 });
    }
    const f = sim.faults;
    if (f.failCreates.count > 0) {
      f.failCreates.count -= 1;
      stats.createFailures += 1;
      return send(res, f.failCreates.status, { code: 20500, message: 'Simulated failure', status: f.failCreates.status });
    }
    stats.creates += 1;
    const events = ([] as string[]).concat(form.StatusCallbackEvent ?? []).flatMap((e) => e.split(' ')).filter(Boolean);
    const timeLimit = Number(one(form.TimeLimit));
    let resolveFinal: () => void = () => undefined;
    const call: SimCall = {
      sid: sid('CA'),
      accountSid,
      authToken,
      to,
      from,
      status: 'queued',
      createdAt: new Date(),
      answeredAt: null,
      endedAt: null,
      durationS: null,
      outcome: f.outcomeFor?.(to) ?? pickOutcome(weights, random()),
      statusCallback: one(form.StatusCallback) ?? null,
      events: events.length > 0 ? events : ['completed'],
      recordingCallback: one(form.RecordingStatusCallback) ?? null,
      record: one(form.Record) === 'true',
      recordingSid: null,
      timeLimitS: Number.isFinite(timeLimit) && timeLimit > 0 ? timeLimit : null,
      timers: [],
      finalSentAt: null,
      finalDelivered: new Promise<void>((r) => (resolveFinal = r)),
    };
    finalResolvers.set(call.sid, resolveFinal);
    calls.set(call.sid, call);
    sim.onCreate?.(call, performance.now());
    schedule(call);
    if (f.createThenFail > 0) {
      f.createThenFail -= 1;
      return send(res, 500, { code: 20500, message: 'Simulated failure after the call was created', status: 500 });
    }
    const answer = callJson(call);
    answer.status = 'queued';
    if (f.answerAfterFinal) await call.finalDelivered;
    else if (f.createDelayMs > 0) await new Promise((r) => setTimeout(r, f.createDelayMs));
    send(res, 201, answer);
  }

  /** The call's life: initiated → ringing → (in-progress → completed) | busy | no-answer | failed. */
  function schedule(c: SimCall): void {
    const total = Math.max(1, sim.callMs * (0.75 + 0.5 * random()));
    const at = (fraction: number, fn: () => void) => {
      c.timers.push(setTimeout(fn, Math.round(total * fraction)));
    };
    at(0, () => progress(c, 'initiated'));
    at(0.15, () => progress(c, 'ringing'));
    if (c.outcome === 'completed') {
      at(0.35, () => progress(c, 'in-progress'));
      const limitMs = c.timeLimitS === null ? Infinity : c.timeLimitS * 1000;
      at(Math.min(1, limitMs / total), () => finish(c, 'completed'));
    } else {
      at(0.6, () => finish(c, c.outcome));
    }
  }

  const pendingIntermediate = new Map<string, Array<Record<string, string>>>();

  function progress(c: SimCall, status: ProviderCallStatus): void {
    if (!ACTIVE.has(c.status)) return;
    c.status = status;
    if (status === 'in-progress') c.answeredAt = new Date();
    const event = status === 'in-progress' ? 'answered' : status;
    if (!c.statusCallback || !c.events.includes(event)) return;
    const params = statusParams(c);
    if (sim.faults.reorderCallbacks) {
      const list = pendingIntermediate.get(c.sid) ?? [];
      list.push(params);
      pendingIntermediate.set(c.sid, list);
      return;
    }
    void deliverInOrder(c, c.statusCallback, params);
  }

  /**
   * A call's callbacks go out one after another, as Twilio sends them: over a pool of kept-alive
   * connections two callbacks sent together could otherwise overtake each other (a test scripts
   * out-of-order delivery with the reorderCallbacks fault instead).
   */
  const chains = new Map<string, Promise<void>>();
  function deliverInOrder(c: SimCall, target: string, params: Record<string, string>, onSend?: () => void): Promise<void> {
    const next = (chains.get(c.sid) ?? Promise.resolve()).then(() => {
      onSend?.();
      return deliver(target, params, c.authToken);
    });
    chains.set(c.sid, next);
    void next.then(() => {
      if (chains.get(c.sid) === next) chains.delete(c.sid);
    });
    return next;
  }

  function finish(c: SimCall, status: SimOutcome | 'canceled'): void {
    if (!ACTIVE.has(c.status)) return;
    for (const t of c.timers) clearTimeout(t);
    c.status = status;
    c.endedAt = new Date();
    c.durationS = status === 'completed' && c.answeredAt ? Math.round((c.endedAt.getTime() - c.answeredAt.getTime()) / 1000) : 0;
    const resolveFinal = finalResolvers.get(c.sid) ?? (() => undefined);
    finalResolvers.delete(c.sid);
    void (async () => {
      if (c.statusCallback) {
        if (sim.faults.dropFinalCallbacks > 0) {
          sim.faults.dropFinalCallbacks -= 1;
        } else {
          await deliverInOrder(c, c.statusCallback, statusParams(c), () => {
            c.finalSentAt = performance.now();
            sim.onFinalSent?.(c, c.finalSentAt);
          });
          sim.onFinalDelivered?.(c, performance.now());
        }
        const late = pendingIntermediate.get(c.sid);
        pendingIntermediate.delete(c.sid);
        for (const p of late ?? []) await deliverInOrder(c, c.statusCallback, p);
      }
      resolveFinal();
      if (status === 'completed' && c.record) {
        c.recordingSid = sid('RE');
        recordings.set(c.recordingSid, c);
        if (c.recordingCallback) await deliverInOrder(c, c.recordingCallback, recordingParams(c));
      }
    })();
  }

  let sequence = 0;
  function statusParams(c: SimCall): Record<string, string> {
    const p: Record<string, string> = {
      AccountSid: c.accountSid,
      ApiVersion: '2010-04-01',
      CallSid: c.sid,
      CallStatus: c.status,
      Called: c.to,
      Caller: c.from,
      Direction: 'outbound-api',
      From: c.from,
      To: c.to,
      Timestamp: rfc2822(new Date()) ?? '',
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(sequence++),
    };
    if (!ACTIVE.has(c.status)) {
      p.CallDuration = String(c.durationS ?? 0);
      p.Duration = String(Math.ceil((c.durationS ?? 0) / 60));
    }
    return p;
  }

  function recordingParams(c: SimCall): Record<string, string> {
    return {
      AccountSid: c.accountSid,
      CallSid: c.sid,
      RecordingSid: c.recordingSid ?? '',
      RecordingUrl: `https://api.twilio.com${baseOf(c.accountSid)}/Recordings/${c.recordingSid ?? ''}`,
      RecordingStatus: 'completed',
      RecordingDuration: String(Math.max(1, c.durationS ?? 1)),
      RecordingChannels: '1',
      RecordingSource: 'OutboundAPI',
      RecordingStartTime: rfc2822(c.answeredAt) ?? '',
    };
  }

  async function deliver(target: string, params: Record<string, string>, authToken: string): Promise<void> {
    const times = sim.faults.duplicateCallbacks ? 2 : 1;
    for (let i = 0; i < times && !stopped; i++) {
      const signature = twilio.getExpectedTwilioSignature(authToken, target, params);
      try {
        const status = await sender.post(target, {
          'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature, 'i-twilio-idempotency-token': randomBytes(8).toString('hex'),
        }, new URLSearchParams(params).toString(), 15_000);
        if (status >= 200 && status < 300) stats.callbacksSent += 1;
        else stats.callbacksFailed += 1;
      } catch (err) {
        stats.callbacksFailed += 1;
        if (!stopped) opts.log.debug({ err, target }, 'twilio simulator: callback not delivered');
      }
    }
  }

  return sim;
}

function page(key: string, items: unknown[], uri: string) {
  return { [key]: items, page: 0, page_size: 50, first_page_uri: uri, next_page_uri: null, previous_page_uri: null, start: 0, end: items.length, uri };
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

function notFound(res: ServerResponse): void {
  send(res, 404, { code: 20404, message: 'The requested resource was not found', more_info: 'https://www.twilio.com/docs/errors/20404', status: 404 });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
