// The SDK's VoiceResponse alone: the whole SDK (its REST client, axios) costs a process ~0.2 s to load.
import VoiceResponse from 'twilio/lib/twiml/VoiceResponse.js';
import { agentsOf, type CallFlow, type FlowLanguage } from './call-flow.js';

/**
 * A call flow as TwiML, built only with the SDK's VoiceResponse: text from a business (its name,
 * its message) and URLs reach the XML through the SDK's builder, which escapes them — never by
 * concatenation. Pure: the webhooks (twilio.webhooks.ts) decide which document a call gets.
 *
 * Twilio's documents: <Say> (voice, language), <Gather> (numDigits, action; without input it
 * falls through to the next verb and does not request the action), <Dial> (action requested when
 * the dialled leg ends, with DialCallStatus; callerId; record), <Number> (statusCallback per leg).
 */

/**
 * Twilio's Text-to-Speech voices for our two languages: Hebrew has Google voices only (no Polly
 * voice speaks Hebrew); English takes the Google voice of the same family, for one sound.
 */
export const VOICES = {
  'he-IL': 'Google.he-IL-Wavenet-A',
  'en-US': 'Google.en-US-Wavenet-F',
} as const satisfies Record<FlowLanguage, string>;

/** What we say ourselves, in each language of a call; a business's own text comes from its flow. */
export const PROMPTS: Record<FlowLanguage, { press9: string; press1: string; connecting: string; optedOut: string; noAgent: string; goodbye: string }> = {
  'he-IL': {
    press9: 'כדי להפסיק לקבל מאיתנו שיחות, הקישו 9.',
    press1: 'כדי לדבר עם נציג, הקישו 1.',
    connecting: 'מעבירים אתכם לנציג, אנא המתינו.',
    optedOut: 'המספר שלכם הוסר. לא נתקשר אליכם שוב. להתראות.',
    noAgent: 'אין כרגע נציג פנוי. להתראות.',
    goodbye: 'תודה, להתראות.',
  },
  'en-US': {
    press9: 'To stop receiving calls from us, press 9.',
    press1: 'To talk to us now, press 1.',
    connecting: 'Connecting you to an agent, please hold.',
    optedOut: 'Your number has been removed. We will not call you again. Goodbye.',
    noAgent: 'No agent is available right now. Goodbye.',
    goodbye: 'Thank you, goodbye.',
  },
};

/** Seconds a <Gather> waits for a key: the message's, and the short one before a connection. */
export const GATHER_TIMEOUT_S = 5;
export const PRE_CONNECT_TIMEOUT_S = 2;
const DEFAULT_RING_S = 20;

/** Where the flow's own requests go (twilio.webhooks.ts builds them with the call's ids and token). */
export interface FlowUrls {
  gather: string;
  /** The <Dial> action; `next` = index of the agent dialled (sequential), or -1 (all at once). */
  dialStatus(index: number): string;
  /** The status callback of agent leg `index` (its "answered" says which agent took the call). */
  agentLeg(index: number): string;
}

export interface FlowContext {
  flow: CallFlow;
  language: FlowLanguage;
  /** The business's caller id (the call's From): what the agent sees. */
  callerId: string;
  urls: FlowUrls;
}

function say(target: VoiceResponse | VoiceResponse.Gather, language: FlowLanguage, text: string): void {
  target.say({ voice: VOICES[language], language }, text);
}

/** Dials the flow's agents: all in one <Dial> (simultaneous), or agent `index` alone (sequential). */
function dial(r: VoiceResponse, ctx: FlowContext, agents: readonly string[], sequentialIndex: number | null): void {
  const ring = ctx.flow.kind === 'connect' ? (ctx.flow.ring_s ?? DEFAULT_RING_S) : DEFAULT_RING_S;
  const d = r.dial({
    callerId: ctx.callerId,
    record: 'record-from-answer-dual',
    timeout: ring,
    action: ctx.urls.dialStatus(sequentialIndex ?? -1),
    method: 'POST',
  });
  const indexes = sequentialIndex === null ? agents.map((_, i) => i) : [sequentialIndex];
  for (const i of indexes) {
    const number = agents[i];
    if (number !== undefined) d.number({ statusCallbackEvent: ['answered'], statusCallback: ctx.urls.agentLeg(i), statusCallbackMethod: 'POST' }, number);
  }
}

function connectNow(r: VoiceResponse, ctx: FlowContext): void {
  const agents = agentsOf(ctx.flow);
  if (agents.length === 0) {
    say(r, ctx.language, PROMPTS[ctx.language].goodbye);
    r.hangup();
    return;
  }
  const sequential = ctx.flow.kind === 'connect' && ctx.flow.strategy === 'sequential';
  dial(r, ctx, agents, sequential ? 0 : null);
}

function gather(r: VoiceResponse, ctx: FlowContext, timeout: number): VoiceResponse.Gather {
  return r.gather({ numDigits: 1, timeout, action: ctx.urls.gather, method: 'POST', actionOnEmptyResult: false });
}

/**
 * What a lead hears on answering. Press 9 comes first in the flows that hand the call on (before
 * the connection, the business's IVR), and after the message in a message flow.
 */
export function answerTwiml(ctx: FlowContext): string {
  const r = new VoiceResponse();
  const p = PROMPTS[ctx.language];
  const flow = ctx.flow;
  if (flow.kind === 'message') {
    const g = gather(r, ctx, GATHER_TIMEOUT_S);
    if (flow.say !== undefined) say(g, ctx.language, flow.say);
    if (flow.play_url !== undefined) g.play({}, flow.play_url);
    if ((flow.press_1_connect_to ?? []).length > 0) say(g, ctx.language, p.press1);
    say(g, ctx.language, p.press9);
    say(r, ctx.language, p.goodbye);
    r.hangup();
  } else if (flow.kind === 'connect') {
    say(gather(r, ctx, PRE_CONNECT_TIMEOUT_S), ctx.language, `${p.connecting} ${p.press9}`);
    connectNow(r, ctx);
  } else {
    say(gather(r, ctx, PRE_CONNECT_TIMEOUT_S), ctx.language, p.press9);
    r.redirect({ method: 'POST' }, flow.url);
  }
  return r.toString();
}

export type GatherDecision = 'opt_out' | 'connect' | 'redirect' | 'goodbye';

/** What a key pressed during the flow's <Gather> does. */
export function gatherDecision(flow: CallFlow, digits: string): GatherDecision {
  if (digits === '9') return 'opt_out';
  if (flow.kind === 'connect') return 'connect';
  if (flow.kind === 'webhook') return 'redirect';
  return digits === '1' && agentsOf(flow).length > 0 ? 'connect' : 'goodbye';
}

/** The answer to the <Gather> action (a key was pressed). */
export function gatherTwiml(ctx: FlowContext, decision: GatherDecision): string {
  const r = new VoiceResponse();
  const p = PROMPTS[ctx.language];
  if (decision === 'opt_out') {
    say(r, ctx.language, p.optedOut);
    r.hangup();
  } else if (decision === 'connect') {
    if (ctx.flow.kind === 'message') say(r, ctx.language, p.connecting);
    connectNow(r, ctx);
  } else if (decision === 'redirect' && ctx.flow.kind === 'webhook') {
    r.redirect({ method: 'POST' }, ctx.flow.url);
  } else {
    say(r, ctx.language, p.goodbye);
    r.hangup();
  }
  return r.toString();
}

/** DialCallStatus values that mean the lead and an agent talked (Twilio: answered, or completed after a bridge). */
export function wasBridged(dialCallStatus: string | undefined): boolean {
  return dialCallStatus === 'completed' || dialCallStatus === 'answered';
}

/**
 * The answer to the <Dial> action: after a bridged call, hang up; otherwise the next agent
 * (sequential), or "no agent is free" once every one was tried.
 */
export function dialStatusTwiml(ctx: FlowContext, index: number, dialCallStatus: string | undefined): string {
  const r = new VoiceResponse();
  const agents = agentsOf(ctx.flow);
  if (wasBridged(dialCallStatus)) {
    r.hangup();
  } else if (index >= 0 && index + 1 < agents.length) {
    dial(r, ctx, agents, index + 1);
  } else {
    say(r, ctx.language, PROMPTS[ctx.language].noAgent);
    r.hangup();
  }
  return r.toString();
}

/** Left on an answering machine after the beep (DetectMessageEnd), then hang up. */
export function voicemailTwiml(language: FlowLanguage, vm: { say?: string | undefined; play_url?: string | undefined }): string {
  const r = new VoiceResponse();
  if (vm.say !== undefined) say(r, language, vm.say);
  if (vm.play_url !== undefined) r.play({}, vm.play_url);
  r.hangup();
  return r.toString();
}

/** The answer to a voice webhook that must not act (no such call): end the call, say nothing. */
export function hangupTwiml(): string {
  const r = new VoiceResponse();
  r.hangup();
  return r.toString();
}
