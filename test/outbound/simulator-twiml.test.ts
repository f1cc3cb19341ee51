import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'node:querystring';
import { PassThrough } from 'node:stream';
import { after, afterEach, before, describe, test } from 'node:test';
import twilio from 'twilio';
import { SIM_TWILIO_ACCOUNT_SID as SID, SIM_TWILIO_AUTH_TOKEN as TOKEN } from '../../src/config/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { callbackFormIssues } from '../../src/outbound/twilio.webhooks.js';
import type { RequestOptions } from '../../src/providers/telephony/request-client.js';
import { createTwilioSimulator, parseAnsweredBy, parseDigits, type TwilioSimulator } from '../../src/providers/telephony/simulator.js';
import { createTwilioProvider } from '../../src/providers/telephony/twilio.adapter.js';
import { readWavScript } from '../../src/providers/telephony/wav.js';
import { waitFor } from '../helpers/harness.js';

/**
 * The telephony simulator runs the TwiML it gets, speaking Twilio's names (issue 15): the real
 * adapter's create-call request with Url and async AMD, as Twilio documents it; then the
 * simulator's signed TwiML requests (answer Url, Gather and Dial actions, Redirect), the agent
 * leg's status callback and the AMD callback, each checked for its parameters and signature,
 * and what was said kept in the recording. A tiny HTTP server plays the application.
 */

let sim: TwilioSimulator;
let app: Server;
let base = '';
const requests: RequestOptions[] = [];
const got: Array<{ path: string; params: Record<string, string>; valid: boolean }> = [];
/** TwiML the application answers, by path (without query). */
let documents: Record<string, string> = {};

before(async () => {
  sim = createTwilioSimulator({ accountSid: SID, authToken: TOKEN, callMs: 1_000, outcomes: 'completed:1', answeredBy: 'human:1', digits: 'none:1', log: createLogger('silent') });
  await sim.start();
  app = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const params = parse(body) as Record<string, string>;
      got.push({ path: req.url ?? '', params, valid: twilio.validateRequest(TOKEN, String(req.headers['x-twilio-signature']), base + (req.url ?? ''), params) });
      const doc = documents[(req.url ?? '').split('?')[0] ?? ''];
      if (doc === undefined) res.writeHead(204).end();
      else res.writeHead(200, { 'content-type': 'text/xml' }).end(doc);
    });
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
});

after(async () => {
  await sim.stop();
  await new Promise((r) => app.close(r));
});

afterEach(() => {
  sim.resetFaults();
  got.length = 0;
  documents = {};
});

const provider = () => createTwilioProvider({ accountSid: SID, authToken: TOKEN, apiBase: sim.url, onRequest: (o) => requests.push(o) });

async function place(to: string) {
  return provider().createCall({
    to,
    from: '+15005550006',
    statusCallback: `${base}/status?b=1&call_id=7`,
    recordingStatusCallback: `${base}/recording?b=1&call_id=7`,
    record: true,
    timeLimitS: 60,
    url: `${base}/answer?b=1&call_id=7`,
    machineDetection: 'DetectMessageEnd',
    asyncAmdStatusCallback: `${base}/amd?b=1&call_id=7`,
  });
}

const ended = (sid: string) => waitFor(async () => got.some((g) => g.path.startsWith('/recording') && g.params.CallSid === sid), 'the call ended and its recording was reported', 10_000);

describe('the simulator runs TwiML like Twilio', () => {
  test('weights parse; unknown values are refused', () => {
    assert.deepEqual(parseAnsweredBy('human:0.8,machine:0.2').map((w) => w.outcome), ['human', 'machine']);
    assert.deepEqual(parseDigits('none:0.8,1:0.15,9:0.05').map((w) => w.outcome), ['none', '1', '9']);
    assert.throws(() => parseAnsweredBy('robot:1'));
    assert.throws(() => parseDigits('10:1'));
  });

  test('create call with Url and async AMD: the SDK request as Twilio documents it', async () => {
    sim.faults.answeredByFor = () => 'machine';
    documents = { '/answer': '<Response><Pause length="10"/></Response>' };
    const call = await place('+12125550180');
    const req = requests.at(-1);
    const data = req?.data as Record<string, unknown>;
    assert.equal(data.Url, `${base}/answer?b=1&call_id=7`);
    assert.equal(data.Method, 'POST');
    assert.equal(data.Twiml, undefined, 'Url, not inline TwiML');
    assert.equal(data.MachineDetection, 'DetectMessageEnd');
    assert.equal(data.AsyncAmd, 'true');
    assert.equal(data.AsyncAmdStatusCallback, `${base}/amd?b=1&call_id=7`);
    assert.equal(data.AsyncAmdStatusCallbackMethod, 'POST');
    assert.deepEqual(data.StatusCallbackEvent, ['initiated', 'ringing', 'answered', 'completed']);
    await ended(call.sid);
    const answer = got.find((g) => g.path.startsWith('/answer'));
    assert.ok(answer?.valid, 'the answer request is signed');
    for (const k of ['AccountSid', 'CallSid', 'CallStatus', 'From', 'To', 'Direction', 'Called', 'Caller', 'ApiVersion']) assert.ok(answer.params[k] !== undefined, k);
    assert.equal(answer.params.CallStatus, 'in-progress');
    assert.equal(answer.params.Direction, 'outbound-api');
    const amd = got.find((g) => g.path.startsWith('/amd'));
    assert.ok(amd?.valid);
    assert.equal(amd.params.AnsweredBy, 'machine_end_beep');
    assert.ok(Number(amd.params.MachineDetectionDuration) > 0);
    for (const g of got) assert.deepEqual(callbackFormIssues(g.params), [], `${g.path}: ${JSON.stringify(g.params)}`);
  });

  test('Say, Gather with Digits to its action, Redirect, Hangup; what was said rides in the recording', async () => {
    sim.faults.digitsFor = () => '9';
    documents = {
      '/answer': '<Response><Gather numDigits="1" action="/gather-abs"><Say language="he-IL">שלום, הקישו 9</Say></Gather><Say>not reached</Say></Response>',
      '/gather': '<Response><Redirect method="POST">REDIRECT</Redirect></Response>',
      '/next': '<Response><Say language="he-IL">הוסרתם</Say><Pause length="1"/><Hangup/><Say>after hangup</Say></Response>',
    };
    documents['/answer'] = (documents['/answer'] ?? '').replace('/gather-abs', `${base}/gather?x=1&amp;y=2`);
    documents['/gather'] = (documents['/gather'] ?? '').replace('REDIRECT', `${base}/next`);
    const call = await place('+12125550181');
    await ended(call.sid);
    const gather = got.find((g) => g.path.startsWith('/gather'));
    assert.equal(gather?.path, '/gather?x=1&y=2', 'the action URL as given, query intact');
    assert.ok(gather.valid);
    assert.equal(gather.params.Digits, '9');
    assert.ok(got.some((g) => g.path === '/next' && g.valid), 'Redirect fetched, signed');
    const c = sim.calls.get(call.sid);
    assert.deepEqual(c?.heard.map((h) => h.verb), ['Gather', 'Say', 'Redirect', 'Say', 'Pause', 'Hangup']);
    assert.deepEqual(c.said.map((s) => [s.speaker, s.text, s.language]), [
      ['callee', 'הלו, מי מדבר?', 'he-IL'],
      ['flow', 'שלום, הקישו 9', 'he-IL'],
      ['flow', 'הוסרתם', 'he-IL'],
    ]);
    const rec = await provider().findRecording(call.sid);
    assert.ok(rec);
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (ch: Buffer) => chunks.push(ch));
    await provider().downloadRecording(rec.sid, sink);
    const script = readWavScript(Buffer.concat(chunks));
    assert.equal(script?.language, 'he-IL');
    assert.deepEqual(script.segments.map((s) => s.text), ['הלו, מי מדבר?', 'שלום, הקישו 9', 'הוסרתם']);
    assert.ok(script.segments.every((s, i, all) => s.end_s > s.start_s && (i === 0 || s.start_s >= (all[i - 1]?.end_s ?? 0))));
  });

  test('Dial: the agent leg answers, its status callback names the parent, the action hears DialCallStatus', async () => {
    documents = {
      '/answer': `<Response><Dial callerId="+97230000000" record="record-from-answer-dual" action="${base}/dial"><Number statusCallbackEvent="answered" statusCallback="${base}/leg?leg=0">+972501234567</Number></Dial></Response>`,
    };
    const call = await place('+12125550182');
    await ended(call.sid);
    const leg = got.find((g) => g.path.startsWith('/leg'));
    assert.ok(leg?.valid);
    assert.equal(leg.params.ParentCallSid, call.sid);
    assert.equal(leg.params.CallStatus, 'in-progress');
    assert.equal(leg.params.To, '+972501234567');
    assert.equal(leg.params.From, '+97230000000', 'the agent sees the business\'s caller id');
    assert.match(leg.params.CallSid ?? '', /^CA[0-9a-f]{32}$/);
    const action = got.find((g) => g.path.startsWith('/dial'));
    assert.ok(action?.valid);
    assert.equal(action.params.DialCallStatus, 'completed');
    assert.equal(action.params.DialCallSid, leg.params.CallSid);
    assert.equal(action.params.DialBridged, 'true');
    assert.ok(action.params.DialCallDuration !== undefined);
    const c = sim.calls.get(call.sid);
    assert.ok(c?.dialRecorded);
    assert.ok(c.said.some((s) => s.speaker === 'agent'));
  });

  test('an update with Twiml replaces what a live call does (a voicemail after the beep); an update with Status ends it', async () => {
    documents = { '/answer': '<Response><Pause length="60"/></Response>' };
    const call = await place('+12125550183');
    await waitFor(async () => got.some((g) => g.path.startsWith('/answer')), 'answered');
    await provider().redirectCall(call.sid, '<Response><Say language="en-US">Please call us back</Say><Hangup/></Response>');
    await ended(call.sid);
    const c = sim.calls.get(call.sid);
    assert.ok(c?.said.some((s) => s.text === 'Please call us back'));
    assert.equal(c?.status, 'completed');

    const second = await place('+12125550184');
    await waitFor(async () => got.some((g) => g.path.startsWith('/answer') && g.params.CallSid === second.sid), 'answered');
    const endedCall = await provider().endCall(second.sid);
    assert.equal(endedCall.status, 'completed');
  });
});
