import { randomBytes } from 'node:crypto';
import http, { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { parse as parseQuery } from 'node:querystring';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import type { Logger } from '../../lib/logger.js';
import type { ProviderCallStatus } from './types.js';
import { WebhookSender } from '../webhook-sender.js';
import { parseTwiml, type TwimlVerb } from './twiml.js';
import { scriptedWav, sineWav, type SpokenScript } from './wav.js';

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

export type SimAnsweredBy = 'human' | 'machine' | 'unknown';
/** A key the simulated callee presses at the first <Gather>, or 'none'. */
export type SimDigit = 'none' | '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9' | '*' | '#';
const DIGIT_CHOICES: readonly SimDigit[] = ['none', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#'];

/** `human:0.8,machine:0.2` (SIM_ANSWERED_BY) or `none:0.8,1:0.15,9:0.05` (SIM_DIGITS) → weights. */
export function parseWeights<T extends string>(spec: string, allowed: readonly T[], name: string): Array<{ outcome: T; weight: number }> {
  const out: Array<{ outcome: T; weight: number }> = [];
  for (const part of spec.split(',')) {
    const [key, w] = part.split(':').map((x) => x.trim());
    const found = allowed.find((a) => a === key);
    if (found === undefined) throw new Error(`${name}: unknown value "${key}"`);
    const weight = Number(w ?? '1');
    if (!Number.isFinite(weight) || weight < 0) throw new Error(`${name}: bad weight for ${key}`);
    out.push({ outcome: found, weight });
  }
  if (out.reduce((x, o) => x + o.weight, 0) <= 0) throw new Error(`${name}: weights sum to 0`);
  return out;
}

export function parseAnsweredBy(spec: string): Array<{ outcome: SimAnsweredBy; weight: number }> {
  return parseWeights(spec, ['human', 'machine', 'unknown'] as const, 'SIM_ANSWERED_BY');
}

export function parseDigits(spec: string): Array<{ outcome: SimDigit; weight: number }> {
  return parseWeights(spec, DIGIT_CHOICES, 'SIM_DIGITS');
}

function pickWeighted<T extends string>(weights: Array<{ outcome: T; weight: number }>, r: number, fallback: T): T {
  const total = weights.reduce((x, o) => x + o.weight, 0);
  let x = r * total;
  for (const o of weights) {
    if (x < o.weight) return o.outcome;
    x -= o.weight;
  }
  return weights.at(-1)?.outcome ?? fallback;
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
  /** Forces who answers (AMD's verdict) by destination number, instead of SIM_ANSWERED_BY. */
  answeredByFor: ((to: string) => SimAnsweredBy | undefined) | null;
  /** Forces the key the callee presses by destination number, instead of SIM_DIGITS. */
  digitsFor: ((to: string) => SimDigit | undefined) | null;
  /** A recording's audio is served only once this settles (a download held in flight). */
  holdMedia: Promise<unknown> | null;
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
  answeredByFor: null,
  digitsFor: null,
  holdMedia: null,
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
  /** Where Twilio fetches the call's TwiML when answered (Url), or its inline TwiML. */
  url: string | null;
  twiml: string | null;
  machineDetection: string | null;
  amdCallback: string | null;
  /** Who answered (AMD's verdict), decided when the call is answered. */
  answeredBy: SimAnsweredBy | null;
  /** The key the callee presses at the first <Gather> ('none': none), and the keys pressed. */
  digitsPlanned: SimDigit | null;
  digitsPressed: string[];
  /** The verbs the call executed, in order (what the lead heard and did). */
  heard: Array<{ verb: string; text: string; attrs: Record<string, string> }>;
  /** What was said, in order: the flow's <Say>s, the callee's and an agent's lines, each in its language. */
  said: Array<{ speaker: 'flow' | 'callee' | 'agent'; text: string; language: string }>;
  /** The URLs the call's TwiML was fetched from, in order (answer, actions, redirects). */
  fetched: string[];
  /** The agent legs <Dial> placed, and the one that answered. */
  agentLegs: Array<{ sid: string; to: string; answered: boolean }>;
  /** <Dial record="…"> was asked (both legs recorded: the call's recording carries the agent). */
  dialRecorded: boolean;
  /** Bumped when the call's TwiML is replaced (an update with Twiml / Url): the old document stops. */
  generation: number;
  /** The callee hangs up (the call's time is over): ends a bridged <Dial> first, then the call. */
  inDial: boolean;
  calleeHungUp: (() => void) | null;
}

export interface SimStats {
  creates: number;
  createFailures: number;
  callbacksSent: number;
  callbacksFailed: number;
  /** TwiML requests (answer Url, Gather / Dial actions, Redirect) and AMD callbacks, counted apart from status callbacks. */
  twimlRequests: number;
  amdCallbacks: number;
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
  /** SIM_ANSWERED_BY (default `human:0.8,machine:0.2`) and SIM_DIGITS (default `none:0.8,1:0.15,9:0.05`). */
  answeredBy?: string;
  digits?: string;
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
  const answeredByWeights = parseAnsweredBy(opts.answeredBy ?? 'human:0.8,machine:0.2');
  const digitWeights = parseDigits(opts.digits ?? 'none:0.8,1:0.15,9:0.05');
  const calls = new Map<string, SimCall>();
  const recordings = new Map<string, SimCall>();
  const stats: SimStats = { creates: 0, createFailures: 0, callbacksSent: 0, callbacksFailed: 0, twimlRequests: 0, amdCallbacks: 0, mediaDownloads: new Map() };
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
      twimlHttp.destroy();
      twimlHttps.destroy();
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
        } else if (c.status === 'in-progress' && (form.Twiml !== undefined || form.Url !== undefined)) {
          // Twilio's "modify a live call": the call leaves what it was doing for the new TwiML.
          c.generation += 1;
          const inline = one(form.Twiml);
          void (inline !== undefined ? runDocument(c, inline, c.generation) : fetchAndRun(c, one(form.Url) ?? '', {}, c.generation));
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
      if (sim.faults.holdMedia) await sim.faults.holdMedia;
      const seconds = Math.min(10, Math.max(1, c.durationS ?? 1));
      let audio = c.said.length > 0 ? scriptedWav(seconds, scriptOf(c, seconds)) : wav.get(seconds);
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
    if (!to || !from || (!form.Twiml && !form.Url && !form.ApplicationSid) || (one(form.AsyncAmd) === 'true' && !form.MachineDetection)) {
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
      url: one(form.Url) ?? null,
      twiml: one(form.Twiml) ?? null,
      machineDetection: one(form.MachineDetection) ?? null,
      amdCallback: one(form.AsyncAmd) === 'true' ? (one(form.AsyncAmdStatusCallback) ?? null) : null,
      answeredBy: null,
      digitsPlanned: null,
      digitsPressed: [],
      heard: [],
      said: [],
      fetched: [],
      agentLegs: [],
      dialRecorded: false,
      generation: 0,
      inDial: false,
      calleeHungUp: null,
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
      at(Math.min(1, limitMs / total), () => calleeHangsUp(c));
    } else {
      at(0.6, () => finish(c, c.outcome));
    }
  }

  const pendingIntermediate = new Map<string, Array<Record<string, string>>>();

  function progress(c: SimCall, status: ProviderCallStatus): void {
    if (!ACTIVE.has(c.status)) return;
    c.status = status;
    if (status === 'in-progress') {
      c.answeredAt = new Date();
      if (c.url !== null || c.twiml !== null) void answer(c);
    }
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
      ...voiceParams(c),
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
      const signature = getExpectedTwilioSignature(authToken, target, params);
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

  // ── The call flow: the simulator runs the TwiML it gets, as Twilio does ──────────────────────

  /**
   * Simulated seconds of TwiML (a <Say>, a <Pause length>, a <Gather timeout>, a ring) in real ms:
   * a twentieth of the call's length, so a flow fits in SIM_CALL_MS and tests stay fast.
   */
  const stepMs = (): number => Math.min(250, Math.max(2, Math.round(sim.callMs / 20)));
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  const live = (c: SimCall, gen: number): boolean => !stopped && c.status === 'in-progress' && c.generation === gen;

  /** Answered: decide who answered and what they press, send the AMD verdict, run the call's TwiML. */
  async function answer(c: SimCall): Promise<void> {
    c.answeredBy = sim.faults.answeredByFor?.(c.to) ?? pickWeighted(answeredByWeights, random(), 'human');
    // A machine presses nothing.
    c.digitsPlanned = c.answeredBy === 'machine' ? 'none' : (sim.faults.digitsFor?.(c.to) ?? pickWeighted(digitWeights, random(), 'none'));
    if (c.machineDetection !== null && c.amdCallback !== null) {
      // DetectMessageEnd waits for a machine's greeting to end (the beep); a human is heard at once.
      const delay = stepMs() * (c.answeredBy === 'human' ? 2 : c.answeredBy === 'machine' ? 4 : 6);
      const target = c.amdCallback;
      c.timers.push(setTimeout(() => {
        if (!ACTIVE.has(c.status) || stopped) return;
        stats.amdCallbacks += 1;
        void deliver(target, {
          AccountSid: c.accountSid,
          CallSid: c.sid,
          AnsweredBy: c.answeredBy === 'human' ? 'human' : c.answeredBy === 'machine' ? 'machine_end_beep' : 'unknown',
          MachineDetectionDuration: String(delay),
        }, c.authToken);
      }, delay));
    }
    const gen = c.generation;
    if (c.url !== null) {
      // Synchronous AMD (no AsyncAmd) reports the verdict with the TwiML request instead.
      const sync: Record<string, string> = c.machineDetection !== null && c.amdCallback === null ? { AnsweredBy: c.answeredBy === 'machine' ? 'machine_end_beep' : c.answeredBy } : {};
      await fetchAndRun(c, c.url, sync, gen);
    } else if (c.twiml !== null) {
      await runDocument(c, c.twiml, gen);
    }
  }

  /** The call's time is over: a bridged <Dial> ends first (its action is requested), then the call. */
  function calleeHangsUp(c: SimCall): void {
    if (c.inDial && c.calleeHungUp) c.calleeHungUp();
    else finish(c, 'completed');
  }

  /** The parameters of every TwiML request Twilio makes for a call (voice webhook request). */
  function voiceParams(c: SimCall): Record<string, string> {
    return {
      AccountSid: c.accountSid,
      ApiVersion: '2010-04-01',
      CallSid: c.sid,
      CallStatus: c.status,
      Called: c.to,
      Caller: c.from,
      Direction: 'outbound-api',
      From: c.from,
      To: c.to,
    };
  }

  /** POSTs a signed TwiML request and runs the document it answers; an error or non-TwiML ends the call, as Twilio's "application error" does. */
  async function fetchAndRun(c: SimCall, url: string, extra: Record<string, string>, gen: number): Promise<void> {
    if (!live(c, gen)) return;
    c.fetched.push(url);
    stats.twimlRequests += 1;
    const params = { ...voiceParams(c), ...extra };
    let answer: { status: number; body: string };
    try {
      answer = await postForText(url, params, c.authToken);
    } catch (err) {
      opts.log.debug({ err, url }, 'twilio simulator: TwiML request failed');
      if (live(c, gen)) finish(c, 'completed');
      return;
    }
    if (answer.status < 200 || answer.status >= 300) {
      if (live(c, gen)) finish(c, 'completed');
      return;
    }
    await runDocument(c, answer.body, gen);
  }

  async function runDocument(c: SimCall, xml: string, gen: number): Promise<void> {
    const verbs = parseTwiml(xml);
    if (verbs === null) {
      if (live(c, gen)) finish(c, 'completed');
      return;
    }
    const next = await execute(c, verbs, gen);
    // The end of a document hangs up, as with Twilio; a request that took over (an action, a redirect) runs on.
    if (next === 'end' && live(c, gen)) finish(c, 'completed');
  }

  function languageOf(verbs: TwimlVerb[]): string | undefined {
    for (const v of verbs) {
      if (v.verb === 'Say' && v.attrs.language) return v.attrs.language;
      const inner = languageOf(v.children);
      if (inner) return inner;
    }
    return undefined;
  }

  /** The callee speaks first, once, in the call's language (a person's "hello", or a machine's greeting). */
  function calleeGreets(c: SimCall, language: string): void {
    if (c.said.some((x) => x.speaker === 'callee')) return;
    const lines = LINES[language === 'he-IL' ? 'he-IL' : 'en-US'];
    c.said.push({ speaker: 'callee', text: c.answeredBy === 'machine' ? lines.machine : lines.hello, language });
  }

  /** Runs verbs in order: 'end' when the document ran out, 'handed' when a request took over (or the call ended). */
  async function execute(c: SimCall, verbs: TwimlVerb[], gen: number): Promise<'end' | 'handed'> {
    const language = languageOf(verbs) ?? c.said.find((x) => x.speaker === 'flow')?.language ?? 'en-US';
    for (const v of verbs) {
      if (!live(c, gen)) return 'handed';
      c.heard.push({ verb: v.verb, text: v.text, attrs: v.attrs });
      switch (v.verb) {
        case 'Say':
          calleeGreets(c, v.attrs.language ?? language);
          c.said.push({ speaker: 'flow', text: v.text, language: v.attrs.language ?? 'en-US' });
          await sleep(stepMs());
          break;
        case 'Play':
          calleeGreets(c, language);
          await sleep(stepMs());
          break;
        case 'Pause':
          await sleep(stepMs() * Math.min(60, Math.max(1, Number(v.attrs.length ?? '1') || 1)));
          break;
        case 'Record':
          await sleep(stepMs());
          break;
        case 'Hangup':
        case 'Reject':
          finish(c, 'completed');
          return 'handed';
        case 'Redirect':
          await fetchAndRun(c, v.text, {}, gen);
          return 'handed';
        case 'Gather': {
          if ((await execute(c, v.children, gen)) === 'handed') return 'handed';
          if (!live(c, gen)) return 'handed';
          const planned = c.digitsPlanned;
          const press = planned !== null && planned !== 'none' && c.digitsPressed.length === 0 ? planned : null;
          if (press !== null) {
            c.digitsPressed.push(press);
            if (v.attrs.action) {
              await fetchAndRun(c, v.attrs.action, { Digits: press, FinishedOnKey: '' }, gen);
              return 'handed';
            }
            break;
          }
          await sleep(stepMs() * Math.min(30, Math.max(1, Number(v.attrs.timeout ?? '5') || 5)));
          if (v.attrs.actionOnEmptyResult === 'true' && v.attrs.action) {
            await fetchAndRun(c, v.attrs.action, { Digits: '', FinishedOnKey: '' }, gen);
            return 'handed';
          }
          break;
        }
        case 'Dial':
          if ((await dial(c, v, gen, language)) === 'handed') return 'handed';
          break;
        default:
          break;
      }
    }
    return 'end';
  }

  /**
   * <Dial> with <Number>s: every leg rings, the first to answer (after a jittered ring) is bridged;
   * its "answered" status callback goes to the <Number>'s statusCallback. The bridge lasts until
   * the call's time is over; then the <Dial> action hears DialCallStatus=completed.
   */
  async function dial(c: SimCall, v: TwimlVerb, gen: number, language: string): Promise<'end' | 'handed'> {
    const numbers = v.children.filter((n) => n.verb === 'Number').map((n) => ({ to: n.text, attrs: n.attrs }));
    if (numbers.length === 0 && v.text) numbers.push({ to: v.text, attrs: {} });
    if (v.attrs.record && v.attrs.record !== 'do-not-record') c.dialRecorded = true;
    const legs = numbers.map((n) => ({ sid: sid('CA'), to: n.to, answered: false, attrs: n.attrs, after: stepMs() * (1 + random()) }));
    for (const l of legs) c.agentLegs.push(l);
    const winner = legs.reduce<(typeof legs)[number] | undefined>((w, l) => (w === undefined || l.after < w.after ? l : w), undefined);
    let bridgedAt = 0;
    if (winner) {
      await sleep(winner.after);
      if (!live(c, gen)) return 'handed';
      winner.answered = true;
      const leg = c.agentLegs.find((l) => l.sid === winner.sid);
      if (leg) leg.answered = true;
      bridgedAt = Date.now();
      const events = (winner.attrs.statusCallbackEvent ?? '').split(' ');
      if (winner.attrs.statusCallback && events.includes('answered')) {
        void deliver(winner.attrs.statusCallback, {
          AccountSid: c.accountSid,
          ApiVersion: '2010-04-01',
          CallSid: winner.sid,
          ParentCallSid: c.sid,
          CallStatus: 'in-progress',
          Called: winner.to,
          Caller: v.attrs.callerId ?? c.from,
          Direction: 'outbound-dial',
          From: v.attrs.callerId ?? c.from,
          To: winner.to,
          Timestamp: rfc2822(new Date()) ?? '',
          CallbackSource: 'call-progress-events',
          SequenceNumber: '0',
        }, c.authToken);
      }
      const lines = LINES[language === 'he-IL' ? 'he-IL' : 'en-US'];
      calleeGreets(c, language);
      c.said.push({ speaker: 'agent', text: lines.agent, language }, { speaker: 'callee', text: lines.toAgent, language });
      c.inDial = true;
      await new Promise<void>((resolve) => (c.calleeHungUp = resolve));
      c.inDial = false;
      c.calleeHungUp = null;
    }
    if (c.generation !== gen || stopped) return 'handed';
    if (v.attrs.action) {
      const duration = winner ? Math.round((Date.now() - bridgedAt) / 1000) : 0;
      stats.twimlRequests += 1;
      c.fetched.push(v.attrs.action);
      // The lead hung up: Twilio requests the action (the call is over, its answer is not run).
      await postForText(v.attrs.action, {
        ...voiceParams(c),
        CallStatus: 'completed',
        DialCallStatus: winner ? 'completed' : 'no-answer',
        DialCallSid: winner?.sid ?? '',
        DialCallDuration: String(duration),
        DialBridged: winner ? 'true' : 'false',
      }, c.authToken).catch((err: unknown) => opts.log.debug({ err }, 'twilio simulator: dial action failed'));
    }
    finish(c, 'completed');
    return 'handed';
  }

  const twimlHttp = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const twimlHttps = new https.Agent({ keepAlive: true, maxSockets: 32 });

  /** A signed form POST (as Twilio's TwiML requests) whose answer body is read. */
  function postForText(url: string, params: Record<string, string>, authToken: string): Promise<{ status: number; body: string }> {
    const body = new URLSearchParams(params).toString();
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': String(Buffer.byteLength(body)),
      'x-twilio-signature': getExpectedTwilioSignature(authToken, url, params),
      'i-twilio-idempotency-token': randomBytes(8).toString('hex'),
    };
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(target, { method: 'POST', agent: secure ? twimlHttps : twimlHttp, headers, signal: AbortSignal.timeout(15_000) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (ch: Buffer) => chunks.push(ch));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.once('error', reject);
      });
      req.once('error', reject);
      req.end(body);
    });
  }

  return sim;
}

/** What the simulated people say, per language of the call. */
const LINES = {
  'he-IL': {
    hello: 'הלו, מי מדבר?',
    machine: 'הגעתם לתא הקולי. השאירו הודעה אחרי הצליל.',
    agent: 'שלום, כאן הנציג. במה אפשר לעזור?',
    toAgent: 'רציתי לשמוע עוד על ההצעה.',
  },
  'en-US': {
    hello: 'Hello, who is this?',
    machine: 'You have reached my voicemail. Please leave a message after the tone.',
    agent: 'Hi, this is the agent. How can I help?',
    toAgent: 'I would like to hear more about the offer.',
  },
} as const;

/** The recording's script: what was said, in order, spread over the recording (wav.ts, read back by the transcription simulator). */
export function scriptOf(c: Pick<SimCall, 'said'>, seconds: number): SpokenScript {
  const language = c.said.find((x) => x.speaker === 'flow')?.language ?? c.said[0]?.language ?? 'en-US';
  const slot = seconds / Math.max(1, c.said.length);
  const round = (x: number) => Math.round(x * 100) / 100;
  return { language, segments: c.said.map((x, i) => ({ start_s: round(i * slot), end_s: round((i + 1) * slot), text: x.text })) };
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
