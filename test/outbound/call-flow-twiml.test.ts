import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { english } from '../../src/lib/messages.js';
import { CallFlowInput, callFlowIssues, defaultCallFlow, flowLanguage, type CallFlow } from '../../src/outbound/call-flow.js';
import {
  answerTwiml,
  dialStatusTwiml,
  gatherDecision,
  gatherTwiml,
  hangupTwiml,
  PROMPTS,
  VOICES,
  voicemailTwiml,
  type FlowContext,
} from '../../src/outbound/call-flow.twiml.js';

/** Issue 15: the call-flow model (shape + rules) and its TwiML, pure. */

const AGENT_A = '+972501234567';
const AGENT_B = '+972521234568';

describe('call flow validation', () => {
  const cases: Array<{ name: string; flow: unknown; shape: boolean; issues?: string[]; https?: string[] }> = [
    { name: 'connect, simultaneous', flow: { kind: 'connect', agents: [AGENT_A, AGENT_B], strategy: 'simultaneous' }, shape: true, issues: [] },
    { name: 'connect, sequential with ring', flow: { kind: 'connect', agents: [AGENT_A], strategy: 'sequential', ring_s: 15 }, shape: true, issues: [] },
    { name: 'connect without agents', flow: { kind: 'connect', agents: [], strategy: 'simultaneous' }, shape: false },
    { name: 'connect, 11 agents', flow: { kind: 'connect', agents: Array.from({ length: 11 }, (_, i) => `+97250123456${i % 10}`), strategy: 'simultaneous' }, shape: false },
    { name: 'connect, local number', flow: { kind: 'connect', agents: ['0501234567'], strategy: 'simultaneous' }, shape: false },
    { name: 'connect, unknown strategy', flow: { kind: 'connect', agents: [AGENT_A], strategy: 'random' }, shape: false },
    { name: 'connect, ring too short', flow: { kind: 'connect', agents: [AGENT_A], strategy: 'sequential', ring_s: 1 }, shape: false },
    { name: 'connect, number that is no phone', flow: { kind: 'connect', agents: ['+999123456789'], strategy: 'simultaneous' }, shape: true, issues: ['x.agents.0'] },
    { name: 'connect, repeated agent', flow: { kind: 'connect', agents: [AGENT_A, AGENT_A], strategy: 'simultaneous' }, shape: true, issues: ['x.agents'] },
    { name: 'message with say', flow: { kind: 'message', say: 'שלום' }, shape: true, issues: [] },
    { name: 'message with nothing to say', flow: { kind: 'message' }, shape: true, issues: ['x'] },
    { name: 'message, empty say', flow: { kind: 'message', say: '   ' }, shape: false },
    { name: 'message, http audio', flow: { kind: 'message', play_url: 'http://example.com/a.mp3' }, shape: true, issues: [], https: ['x.play_url'] },
    { name: 'message, ftp audio', flow: { kind: 'message', play_url: 'ftp://example.com/a.mp3' }, shape: true, issues: ['x.play_url'] },
    { name: 'message, audio URL with a password', flow: { kind: 'message', play_url: 'https://u:p@example.com/a.mp3' }, shape: true, issues: ['x.play_url'] },
    { name: 'message, unknown language', flow: { kind: 'message', say: 'hi', language: 'fr-FR' }, shape: false },
    { name: 'message, press 1', flow: { kind: 'message', say: 'hi', language: 'en-US', press_1_connect_to: [AGENT_A] }, shape: true, issues: [] },
    { name: 'message, unknown key', flow: { kind: 'message', say: 'hi', press_2: [] }, shape: false },
    { name: 'webhook https', flow: { kind: 'webhook', url: 'https://ivr.example.com/twiml' }, shape: true, issues: [] },
    { name: 'webhook http', flow: { kind: 'webhook', url: 'http://ivr.example.com/twiml' }, shape: true, issues: [], https: ['x.url'] },
    { name: 'webhook not a URL', flow: { kind: 'webhook', url: 'not a url' }, shape: true, issues: ['x.url'] },
    { name: 'voicemail', flow: { kind: 'message', say: 'hi', on_machine: { voicemail: { say: 'call us back' } } }, shape: true, issues: [] },
    { name: 'empty voicemail', flow: { kind: 'message', say: 'hi', on_machine: { voicemail: {} } }, shape: true, issues: ['x.on_machine.voicemail'] },
    { name: 'on_machine unknown', flow: { kind: 'message', say: 'hi', on_machine: 'ignore' }, shape: false },
    { name: 'unknown kind', flow: { kind: 'ivr' }, shape: false },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const parsed = CallFlowInput.safeParse(c.flow);
      assert.equal(parsed.success, c.shape, JSON.stringify(parsed.error?.issues));
      if (!parsed.success) return;
      const dev = callFlowIssues(parsed.data, 'x', { allowHttp: true });
      assert.deepEqual(dev.map((i) => i.path), c.issues ?? []);
      const prod = callFlowIssues(parsed.data, 'x', { allowHttp: false });
      assert.deepEqual(prod.map((i) => i.path), [...(c.issues ?? []), ...(c.https ?? [])]);
      for (const i of prod) assert.ok(english(typeof i.message === 'string' ? { key: i.message } : i.message).length > 0);
    });
  }

  test('the default flow: a message in the business\'s language naming it', () => {
    const he = defaultCallFlow({ name: 'מספרת רחל', locale: 'he' });
    assert.equal(he.kind, 'message');
    assert.equal(flowLanguage(he, 'he'), 'he-IL');
    assert.match(he.kind === 'message' ? (he.say ?? '') : '', /מספרת רחל/);
    const en = defaultCallFlow({ name: 'Acme', locale: 'en' });
    assert.equal(flowLanguage(en, 'en'), 'en-US');
    assert.match(en.kind === 'message' ? (en.say ?? '') : '', /Acme/);
    assert.deepEqual(callFlowIssues(he, 'x', { allowHttp: false }), []);
  });
});

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', preserveOrder: true, trimValues: false, parseTagValue: false });
type Node = Record<string, unknown> & { ':@'?: Record<string, string> };

/** The verbs of a document, in order: `{verb, attrs, text, children}`. */
function verbs(xml: string): Array<{ verb: string; attrs: Record<string, string>; text: string; children: ReturnType<typeof verbs> }> {
  const doc = parser.parse(xml) as Node[];
  const response = doc.find((n) => 'Response' in n);
  assert.ok(response, xml);
  const walk = (nodes: Node[]): ReturnType<typeof verbs> =>
    nodes.filter((n) => !('#text' in n)).map((n) => {
      const verb = Object.keys(n).find((k) => k !== ':@') ?? '';
      const kids = (n[verb] as Node[] | undefined) ?? [];
      const text = kids.filter((k) => '#text' in k).map((k) => String(k['#text'])).join('');
      return { verb, attrs: n[':@'] ?? {}, text, children: walk(kids) };
    });
  return walk(response.Response as Node[]);
}

const urls = {
  gather: 'https://bh.example/webhooks/twilio/voice/gather?b=1&call_id=2&t=x',
  dialStatus: (i: number) => `https://bh.example/webhooks/twilio/voice/dial-status?b=1&call_id=2&t=x&i=${i}`,
  agentLeg: (i: number) => `https://bh.example/webhooks/twilio/voice/dial-status?b=1&call_id=2&t=x&leg=${i}`,
};
const ctx = (flow: CallFlow, language: 'he-IL' | 'en-US' = 'he-IL'): FlowContext => ({ flow, language, callerId: '+97237654321', urls });

describe('call flow TwiML', () => {
  test('message: Say in the language\'s voice, audio, press 1 and press 9 inside one Gather, then goodbye', () => {
    const v = verbs(answerTwiml(ctx({ kind: 'message', say: 'מבצע <חדש> & זול', play_url: 'https://a.example/x.mp3', press_1_connect_to: [AGENT_A] })));
    assert.deepEqual(v.map((x) => x.verb), ['Gather', 'Say', 'Hangup']);
    const g = v[0];
    assert.ok(g);
    assert.equal(g.attrs.numDigits, '1');
    assert.equal(g.attrs.action, urls.gather, 'the action URL survives the XML escaping intact');
    assert.deepEqual(g.children.map((x) => x.verb), ['Say', 'Play', 'Say', 'Say']);
    assert.equal(g.children[0]?.text, 'מבצע <חדש> & זול', 'user text is escaped by the SDK and reads back the same');
    assert.equal(g.children[0]?.attrs.voice, VOICES['he-IL']);
    assert.equal(g.children[0]?.attrs.language, 'he-IL');
    assert.equal(g.children[2]?.text, PROMPTS['he-IL'].press1);
    assert.equal(g.children[3]?.text, PROMPTS['he-IL'].press9);
  });

  test('user text cannot inject verbs', () => {
    const xml = answerTwiml(ctx({ kind: 'message', say: '</Say><Dial>+15005550006</Dial><Say>' }, 'en-US'));
    const all = JSON.stringify(verbs(xml).map((x) => [x.verb, x.children.map((c) => c.verb)]));
    assert.doesNotMatch(all, /Dial/);
  });

  test('connect simultaneous: press 9 first, then one Dial with a Number per agent, recorded, with the business\'s caller id', () => {
    const v = verbs(answerTwiml(ctx({ kind: 'connect', agents: [AGENT_A, AGENT_B], strategy: 'simultaneous', ring_s: 25 }, 'en-US')));
    assert.deepEqual(v.map((x) => x.verb), ['Gather', 'Dial']);
    assert.match(v[0]?.children[0]?.text ?? '', /press 9/);
    const d = v[1];
    assert.equal(d?.attrs.callerId, '+97237654321');
    assert.equal(d?.attrs.record, 'record-from-answer-dual');
    assert.equal(d?.attrs.timeout, '25');
    assert.equal(d?.attrs.action, urls.dialStatus(-1));
    assert.deepEqual(d?.children.map((n) => [n.verb, n.text, n.attrs.statusCallback]), [['Number', AGENT_A, urls.agentLeg(0)], ['Number', AGENT_B, urls.agentLeg(1)]]);
  });

  test('connect sequential: one agent at a time through the dial-status action', () => {
    const flow: CallFlow = { kind: 'connect', agents: [AGENT_A, AGENT_B], strategy: 'sequential' };
    const first = verbs(answerTwiml(ctx(flow))).find((x) => x.verb === 'Dial');
    assert.deepEqual(first?.children.map((n) => n.text), [AGENT_A]);
    assert.equal(first?.attrs.action, urls.dialStatus(0));
    const second = verbs(dialStatusTwiml(ctx(flow), 0, 'no-answer'));
    assert.deepEqual(second[0]?.children.map((n) => n.text), [AGENT_B]);
    assert.equal(second[0]?.attrs.action, urls.dialStatus(1));
    assert.deepEqual(verbs(dialStatusTwiml(ctx(flow), 1, 'busy')).map((x) => [x.verb, x.text]), [['Say', PROMPTS['he-IL'].noAgent], ['Hangup', '']]);
    assert.deepEqual(verbs(dialStatusTwiml(ctx(flow), 0, 'completed')).map((x) => x.verb), ['Hangup']);
  });

  test('webhook: press 9, then Redirect to the business\'s URL', () => {
    const v = verbs(answerTwiml(ctx({ kind: 'webhook', url: 'https://ivr.example/twiml?x=1&y=2' })));
    assert.deepEqual(v.map((x) => x.verb), ['Gather', 'Redirect']);
    assert.equal(v[1]?.text, 'https://ivr.example/twiml?x=1&y=2');
    assert.equal(v[1]?.attrs.method, 'POST');
  });

  test('keys: 9 opts out in every flow; 1 connects a message with press 1; others go on', () => {
    const message: CallFlow = { kind: 'message', say: 'hi', press_1_connect_to: [AGENT_A] };
    const plain: CallFlow = { kind: 'message', say: 'hi' };
    const connect: CallFlow = { kind: 'connect', agents: [AGENT_A], strategy: 'simultaneous' };
    const webhook: CallFlow = { kind: 'webhook', url: 'https://ivr.example/' };
    for (const f of [message, plain, connect, webhook]) assert.equal(gatherDecision(f, '9'), 'opt_out');
    assert.equal(gatherDecision(message, '1'), 'connect');
    assert.equal(gatherDecision(plain, '1'), 'goodbye');
    assert.equal(gatherDecision(message, '5'), 'goodbye');
    assert.equal(gatherDecision(connect, '3'), 'connect');
    assert.equal(gatherDecision(webhook, '1'), 'redirect');
    const out = verbs(gatherTwiml(ctx(plain, 'en-US'), 'opt_out'));
    assert.deepEqual(out.map((x) => [x.verb, x.text]), [['Say', PROMPTS['en-US'].optedOut], ['Hangup', '']]);
    const press1 = verbs(gatherTwiml(ctx(message), 'connect'));
    assert.deepEqual(press1.map((x) => x.verb), ['Say', 'Dial']);
    assert.deepEqual(press1[1]?.children.map((n) => n.text), [AGENT_A]);
  });

  test('voicemail and the harmless hangup', () => {
    assert.deepEqual(verbs(voicemailTwiml('en-US', { say: 'Call us', play_url: 'https://a.example/v.mp3' })).map((x) => x.verb), ['Say', 'Play', 'Hangup']);
    assert.deepEqual(verbs(hangupTwiml()).map((x) => x.verb), ['Hangup']);
  });
});
