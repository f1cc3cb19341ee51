import { isValidPhoneNumber } from 'libphonenumber-js';
import { z } from 'zod';
import type { Issue } from '../lib/errors.js';
import { msg, zodMessage } from '../lib/messages.js';

/**
 * Call flows (API.md "Channels, locale, call flows"): what a lead hears once a call is answered.
 * The model and its validation are pure; call-flow.twiml.ts turns a flow into TwiML, and
 * twilio.webhooks.ts serves it. Every flow offers "press 9 to stop these calls" (DESIGN.md
 * invariant 12), so no flow field can turn that off.
 */

export const FLOW_LANGUAGES = ['he-IL', 'en-US'] as const;
export type FlowLanguage = (typeof FLOW_LANGUAGES)[number];

/** At most 10 numbers in one <Dial> (Twilio's limit for <Number> nouns). */
const MAX_AGENTS = 10;
const E164 = z.string().regex(/^\+[1-9][0-9]{6,14}$/, zodMessage(msg('issue.e164')));
const Agents = z.array(E164).min(1).max(MAX_AGENTS);
const Spoken = z.string().trim().min(1).max(1000);
const AudioUrl = z.string().max(2000);

const Voicemail = z.strictObject({ say: Spoken.optional(), play_url: AudioUrl.optional() });
export const OnMachine = z.union([z.literal('hangup'), z.strictObject({ voicemail: Voicemail })]);
export type OnMachine = z.infer<typeof OnMachine>;

const ConnectFlow = z.strictObject({
  kind: z.literal('connect'),
  agents: Agents,
  strategy: z.enum(['simultaneous', 'sequential']),
  ring_s: z.number().int().min(5).max(120).optional(),
  on_machine: OnMachine.optional(),
});
const MessageFlow = z.strictObject({
  kind: z.literal('message'),
  say: Spoken.optional(),
  play_url: AudioUrl.optional(),
  language: z.enum(FLOW_LANGUAGES).optional(),
  press_1_connect_to: Agents.optional(),
  on_machine: OnMachine.optional(),
});
const WebhookFlow = z.strictObject({
  kind: z.literal('webhook'),
  url: z.string().max(2000),
  on_machine: OnMachine.optional(),
});

/** The shape of a flow (request bodies and stored rows); callFlowIssues checks what a shape cannot. */
export const CallFlowInput = z.discriminatedUnion('kind', [ConnectFlow, MessageFlow, WebhookFlow]);
export type CallFlow = z.infer<typeof CallFlowInput>;
export type ConnectCallFlow = z.infer<typeof ConnectFlow>;
export type MessageCallFlow = z.infer<typeof MessageFlow>;

export interface FlowRules {
  /** Plain-http URLs allowed (everything but production: the simulator and tests serve http). */
  allowHttp: boolean;
}

function urlIssue(raw: string, path: string, rules: FlowRules): Issue | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { path, message: msg('issue.flow_url') };
  }
  const ok = u.protocol === 'https:' || (rules.allowHttp && u.protocol === 'http:');
  if (!ok || u.username !== '' || u.password !== '') return { path, message: msg(rules.allowHttp ? 'issue.flow_url' : 'issue.flow_url_https') };
  return null;
}

function agentIssues(agents: readonly string[], path: string): Issue[] {
  const issues: Issue[] = [];
  agents.forEach((a, i) => {
    if (!isValidPhoneNumber(a)) issues.push({ path: `${path}.${i}`, message: msg('issue.phone_invalid') });
  });
  if (new Set(agents).size !== agents.length) issues.push({ path, message: msg('issue.flow_agents_repeated') });
  return issues;
}

/**
 * What is wrong with a flow of the right shape (empty when nothing), each issue by path under
 * `base` (e.g. `body.call_flow`): URLs (https only in production, no credentials), agents that
 * are real phone numbers and not repeated, a message or voicemail that says or plays something.
 */
export function callFlowIssues(flow: CallFlow, base: string, rules: FlowRules): Issue[] {
  const issues: Issue[] = [];
  const push = (i: Issue | null) => {
    if (i) issues.push(i);
  };
  if (flow.kind === 'connect') issues.push(...agentIssues(flow.agents, `${base}.agents`));
  if (flow.kind === 'message') {
    if (flow.say === undefined && flow.play_url === undefined) issues.push({ path: base, message: msg('issue.flow_say_or_play') });
    if (flow.play_url !== undefined) push(urlIssue(flow.play_url, `${base}.play_url`, rules));
    if (flow.press_1_connect_to) issues.push(...agentIssues(flow.press_1_connect_to, `${base}.press_1_connect_to`));
  }
  if (flow.kind === 'webhook') push(urlIssue(flow.url, `${base}.url`, rules));
  if (flow.on_machine !== undefined && flow.on_machine !== 'hangup') {
    const vm = flow.on_machine.voicemail;
    const at = `${base}.on_machine.voicemail`;
    if (vm.say === undefined && vm.play_url === undefined) issues.push({ path: at, message: msg('issue.flow_say_or_play') });
    if (vm.play_url !== undefined) push(urlIssue(vm.play_url, `${at}.play_url`, rules));
  }
  return issues;
}

/** The flow a stored row holds, or null (none stored, or a row this version cannot read). */
export function storedFlow(json: unknown): CallFlow | null {
  if (json === null || json === undefined) return null;
  const r = CallFlowInput.safeParse(json);
  return r.success ? r.data : null;
}

export type Locale = 'he' | 'en';

export function languageOfLocale(locale: string): FlowLanguage {
  return locale === 'en' ? 'en-US' : 'he-IL';
}

/** The language a call of this flow speaks: the message's own, else the business's. */
export function flowLanguage(flow: CallFlow, locale: string): FlowLanguage {
  return flow.kind === 'message' && flow.language ? flow.language : languageOfLocale(locale);
}

/**
 * A business with no flow of its own: a message in its language saying who calls, with press 9
 * (added to every flow by the TwiML). The business's name is the only text from outside; TwiML
 * is built by the SDK, which escapes it.
 */
export function defaultCallFlow(business: { name: string; locale: string }): CallFlow {
  const language = languageOfLocale(business.locale);
  const say = language === 'he-IL' ? `שלום, זו שיחה מ${business.name}.` : `Hello, this is a call from ${business.name}.`;
  return { kind: 'message', say, language };
}

/** The numbers a flow can connect the lead to (connect's agents, or a message's "press 1"). */
export function agentsOf(flow: CallFlow): readonly string[] {
  if (flow.kind === 'connect') return flow.agents;
  if (flow.kind === 'message') return flow.press_1_connect_to ?? [];
  return [];
}

export function onMachineOf(flow: CallFlow): OnMachine {
  return flow.on_machine ?? 'hangup';
}
