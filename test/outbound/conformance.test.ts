import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'node:querystring';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import twilio from 'twilio';
import { SIM_TWILIO_ACCOUNT_SID as SID, SIM_TWILIO_AUTH_TOKEN as TOKEN } from '../../src/config/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { callbackFormIssues } from '../../src/outbound/twilio.webhooks.js';
import type { RequestOptions } from '../../src/providers/telephony/request-client.js';
import { createTwilioSimulator, type TwilioSimulator } from '../../src/providers/telephony/simulator.js';
import { createTwilioProvider } from '../../src/providers/telephony/twilio.adapter.js';
import { ProviderError } from '../../src/providers/telephony/types.js';
import { waitFor } from '../helpers/harness.js';

/**
 * One conformance test for the telephony provider: the real adapter (official SDK) builds the
 * requests Twilio documents — checked as built, before the host rewrite — and the simulator
 * answers them as Twilio does, including signed callbacks that the SDK's validateRequest accepts.
 */
let sim: TwilioSimulator;
let hooks: Server;
let hooksUrl = '';
const received: Array<{ path: string; params: Record<string, string>; valid: boolean }> = [];
const requests: RequestOptions[] = [];
/** A call's callback token, as place-call.ts puts it in the URLs (006_webhook_binding.sql). */
const CALLBACK_TOKEN = '0123456789abcdef0123456789abcdef';

before(async () => {
  sim = createTwilioSimulator({ accountSid: SID, authToken: TOKEN, callMs: 80, outcomes: 'completed:1', log: createLogger('silent') });
  await sim.start();
  hooks = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const params = parse(body) as Record<string, string>;
      const url = hooksUrl + (req.url ?? '');
      received.push({ path: req.url ?? '', params, valid: twilio.validateRequest(TOKEN, String(req.headers['x-twilio-signature']), url, params) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
  hooksUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
});

after(async () => {
  await sim.stop();
  await new Promise((r) => hooks.close(r));
});

describe('telephony provider conformance (real adapter ↔ simulator)', () => {
  test('create call: the SDK request as Twilio documents it; lifecycle callbacks signed and in order', async () => {
    const provider = createTwilioProvider({ accountSid: SID, authToken: TOKEN, apiBase: sim.url, onRequest: (o) => requests.push(o) });
    const call = await provider.createCall({
      to: '+12125550100',
      from: '+15005550006',
      statusCallback: `${hooksUrl}/status?b=1&call_id=7&t=${CALLBACK_TOKEN}`,
      recordingStatusCallback: `${hooksUrl}/recording?b=1&call_id=7&t=${CALLBACK_TOKEN}`,
      record: true,
      timeLimitS: 120,
    });
    const req = requests.at(-1);
    assert.ok(req);
    assert.equal(req.method.toUpperCase(), 'POST');
    assert.equal(req.uri, `https://api.twilio.com/2010-04-01/Accounts/${SID}/Calls.json`);
    assert.equal(req.username, SID);
    assert.equal(req.password, TOKEN);
    const data = req.data as Record<string, unknown>;
    assert.equal(data.To, '+12125550100');
    assert.equal(data.From, '+15005550006');
    assert.equal(data.StatusCallback, `${hooksUrl}/status?b=1&call_id=7&t=${CALLBACK_TOKEN}`);
    assert.equal(data.StatusCallbackMethod, 'POST');
    assert.deepEqual(data.StatusCallbackEvent, ['initiated', 'ringing', 'answered', 'completed']);
    assert.equal(data.Record, 'true');
    assert.equal(data.RecordingStatusCallback, `${hooksUrl}/recording?b=1&call_id=7&t=${CALLBACK_TOKEN}`);
    assert.equal(data.TimeLimit, 120);
    assert.match(String(data.Twiml), /^<Response>/);

    assert.match(call.sid, /^CA[0-9a-f]{32}$/);
    assert.equal(call.status, 'queued');
    await waitFor(async () => received.some((r) => r.path.startsWith('/recording')), 'recording callback');
    const statuses = received.filter((r) => r.path.startsWith('/status')).map((r) => r.params.CallStatus);
    assert.deepEqual(statuses, ['initiated', 'ringing', 'in-progress', 'completed']);
    assert.ok(received.every((r) => r.valid), 'every callback carries a valid X-Twilio-Signature');
    // To the URL it was handed, token included, and in the form our webhook binds to one call:
    // AccountSid and CallSid present, every key of Twilio's parameter-name shape, none repeated.
    assert.ok(received.every((r) => r.path.endsWith(`?b=1&call_id=7&t=${CALLBACK_TOKEN}`)), 'callbacks go to the URLs handed to the provider');
    for (const r of received) assert.deepEqual(callbackFormIssues(r.params), [], `${r.path}: ${JSON.stringify(r.params)}`);
    assert.ok(received.every((r) => r.params.AccountSid === SID && r.params.CallSid === call.sid), 'every callback names the account and the call');
    const final = received.find((r) => r.params.CallStatus === 'completed');
    assert.equal(final?.params.CallSid, call.sid);
    assert.ok(final?.params.CallDuration !== undefined);

    const fetched = await provider.fetchCall(call.sid);
    assert.equal(fetched?.status, 'completed');
    assert.equal(await provider.fetchCall(`CA${'f'.repeat(32)}`), null);
    const found = await provider.findCalls({ to: '+12125550100', from: '+15005550006', startedAfter: new Date(Date.now() - 60_000) });
    assert.deepEqual(found.map((c) => c.sid), [call.sid]);
    const listReq = requests.find((r) => r.uri.endsWith('/Calls.json') && r.method.toUpperCase() === 'GET');
    assert.ok(listReq && 'StartTime>' in (listReq.params as Record<string, unknown>), 'list filters by StartTime>');

    const rec = await provider.findRecording(call.sid);
    assert.match(rec?.sid ?? '', /^RE/);
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const bytes = await provider.downloadRecording(rec?.sid ?? '', sink);
    const audio = Buffer.concat(chunks);
    assert.equal(bytes, audio.length);
    assert.equal(audio.subarray(0, 4).toString('ascii'), 'RIFF');
  });

  test('hang up, errors and credentials', async () => {
    const provider = createTwilioProvider({ accountSid: SID, authToken: TOKEN, apiBase: sim.url });
    sim.callMs = 5_000;
    const call = await provider.createCall({ to: '+12125550101', from: '+15005550006', statusCallback: `${hooksUrl}/s`, recordingStatusCallback: `${hooksUrl}/r`, record: false, timeLimitS: 60 });
    const ended = await provider.endCall(call.sid);
    assert.ok(ended.status === 'completed' || ended.status === 'canceled');
    sim.faults.failCreates = { count: 1, status: 503 };
    await assert.rejects(provider.createCall({ to: '+1', from: '+2', statusCallback: 'x', recordingStatusCallback: 'y', record: false, timeLimitS: 1 }),
      (e: unknown) => e instanceof ProviderError && e.kind === 'unknown' && e.httpStatus === 503);
    sim.faults.failCreates = { count: 1, status: 429 };
    await assert.rejects(provider.createCall({ to: '+1', from: '+2', statusCallback: 'x', recordingStatusCallback: 'y', record: false, timeLimitS: 1 }),
      (e: unknown) => e instanceof ProviderError && e.kind === 'throttled');
    const wrong = createTwilioProvider({ accountSid: SID, authToken: 'wrong-token', apiBase: sim.url });
    await assert.rejects(wrong.fetchCall(call.sid), (e: unknown) => e instanceof ProviderError && e.kind === 'rejected' && e.httpStatus === 401);
    sim.callMs = 80;
  });
});
