import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { advance, isActiveCall, outcomeOf } from '../../src/outbound/call-status.js';
import { callingWindowState, parseHours, untilLocalTimeMs } from '../../src/outbound/calling-hours.js';
import { cpsAllowance, cpsDelays } from '../../src/outbound/cps.js';
import { nextRetry, NO_RETRY, RETRY_OUTCOMES, retryDelayS, retryOutcomeOf, type EndedCall, type RetryDelay, type RetryOutcome, type RetryPolicy } from '../../src/outbound/retry.js';
import { retryPolicyFromRow } from '../../src/outbound/settings.repo.js';
import { freeSlots, notifyOwner, pickRoundRobin } from '../../src/outbound/slots.js';
import { parseOutcomes, pickOutcome } from '../../src/providers/telephony/simulator.js';
import { parseRange } from '../../src/recordings/range.js';

describe('call status only moves forward', () => {
  test('forward moves apply, late and duplicate ones do not', () => {
    assert.equal(advance('dialing', 'queued'), 'queued');
    assert.equal(advance('dialing', 'completed'), 'completed');
    assert.equal(advance('ringing', 'in-progress'), 'in-progress');
    assert.equal(advance('ringing', 'ringing'), null);
    assert.equal(advance('in-progress', 'ringing'), null);
    assert.equal(advance('completed', 'ringing'), null);
    assert.equal(advance('completed', 'busy'), null, 'a final status never changes');
    assert.equal(advance('busy', 'completed'), null);
  });
  test('active and outcomes', () => {
    assert.ok(isActiveCall('dialing'));
    assert.ok(!isActiveCall('no-answer'));
    assert.equal(outcomeOf('no-answer'), 'no_answer');
    assert.equal(outcomeOf('canceled'), 'failed');
  });
});

describe('retry policy', () => {
  const policy: RetryPolicy = {
    busy: { attempts: 2, delay: { delayS: 60 } },
    no_answer: { attempts: 1, delay: { delayS: 300 } },
    machine: { attempts: 1, delay: { nextDay: true } },
    voicemail_left: { attempts: 0, delay: { delayS: 900 } },
  };

  test('nextRetry: each outcome is retried after attempts 1..N (its own count) with its own delay, never after N', () => {
    const table: Array<[RetryOutcome | null, number, RetryDelay | null]> = [
      ['busy', 1, { delayS: 60 }],
      ['busy', 2, { delayS: 60 }],
      ['busy', 3, null],
      ['no_answer', 1, { delayS: 300 }],
      ['no_answer', 2, null],
      ['machine', 1, { nextDay: true }],
      ['machine', 2, null],
      ['voicemail_left', 1, null],
      [null, 1, null],
    ];
    for (const [outcome, attempt, expected] of table) assert.deepEqual(nextRetry(outcome, attempt, policy), expected, `${outcome} after attempt ${attempt}`);
  });

  test('nextRetry: no policy (NO_RETRY) retries nothing; the maximum (10) retries attempts 1..10', () => {
    for (const o of RETRY_OUTCOMES) assert.equal(nextRetry(o, 1, NO_RETRY), null, o);
    const max: RetryPolicy = { ...NO_RETRY, voicemail_left: { attempts: 10, delay: { delayS: 1 } } };
    assert.deepEqual(nextRetry('voicemail_left', 10, max), { delayS: 1 });
    assert.equal(nextRetry('voicemail_left', 11, max), null);
  });

  test('retryOutcomeOf: which ended calls a policy can retry', () => {
    const table: Array<[EndedCall, RetryOutcome | null]> = [
      [{ status: 'busy', answeredBy: null, outcome: null }, 'busy'],
      [{ status: 'no_answer', answeredBy: null, outcome: null }, 'no_answer'],
      // A machine hung up on (on_machine "hangup"), with or without the outcome recorded yet, or after a message it heard.
      [{ status: 'completed', answeredBy: 'machine', outcome: 'hung_up' }, 'machine'],
      [{ status: 'completed', answeredBy: 'machine', outcome: null }, 'machine'],
      [{ status: 'completed', answeredBy: 'machine', outcome: 'message_played' }, 'machine'],
      [{ status: 'completed', answeredBy: 'machine', outcome: 'voicemail_left' }, 'voicemail_left'],
      // Final whatever the policy: a person, a verdict of unknown, an opt-out, an agent, a failure.
      [{ status: 'completed', answeredBy: 'human', outcome: 'hung_up' }, null],
      [{ status: 'completed', answeredBy: 'unknown', outcome: 'hung_up' }, null],
      [{ status: 'completed', answeredBy: null, outcome: null }, null],
      [{ status: 'completed', answeredBy: 'machine', outcome: 'opted_out' }, null],
      [{ status: 'completed', answeredBy: 'machine', outcome: 'connected' }, null],
      [{ status: 'failed', answeredBy: 'machine', outcome: 'hung_up' }, null],
      [{ status: 'failed', answeredBy: null, outcome: null }, null],
    ];
    for (const [call, expected] of table) assert.equal(retryOutcomeOf(call), expected, JSON.stringify(call));
  });

  test('a row without per-outcome columns set is the policy of before 017: busy and no-answer after retry_delay_s', () => {
    const row = {
      retry_delay_s: 120,
      retry_busy: 2, retry_no_answer: 1, retry_machine: 0, retry_voicemail_left: 0,
      retry_busy_delay_s: null, retry_no_answer_delay_s: null, retry_machine_delay_s: null, retry_voicemail_left_delay_s: null,
      retry_busy_next_day: false, retry_no_answer_next_day: false, retry_machine_next_day: false, retry_voicemail_left_next_day: false,
    };
    assert.deepEqual(retryPolicyFromRow(row), {
      busy: { attempts: 2, delay: { delayS: 120 } },
      no_answer: { attempts: 1, delay: { delayS: 120 } },
      machine: { attempts: 0, delay: { delayS: 120 } },
      voicemail_left: { attempts: 0, delay: { delayS: 120 } },
    });
    const own = retryPolicyFromRow({ ...row, retry_machine: 1, retry_machine_next_day: true, retry_busy_delay_s: 30 });
    assert.deepEqual([own.machine, own.busy.delay, own.no_answer.delay], [{ attempts: 1, delay: { nextDay: true } }, { delayS: 30 }, { delayS: 120 }]);
    const none = Object.fromEntries(Object.keys(row).map((k) => [k, null])) as unknown as typeof row;
    assert.deepEqual(retryPolicyFromRow(none), NO_RETRY, 'no dialer_settings row: no retries');
  });

  test('next day: the next start of the calling hours in the business time zone', () => {
    const at = (iso: string) => new Date(iso);
    const jerusalem = { timeZone: 'Asia/Jerusalem', dayStartMin: 8 * 60 };
    // 14:00 in Jerusalem (IDT, UTC+3) → 08:00 tomorrow: 18 h.
    assert.equal(retryDelayS({ nextDay: true }, at('2024-06-03T11:00:00Z'), jerusalem), 18 * 3600);
    // 20:59:30 → 11 h 0 min 30 s.
    assert.equal(retryDelayS({ nextDay: true }, at('2024-06-03T17:59:30Z'), jerusalem), 11 * 3600 + 30);
    // Exactly at the opening: the next day's, never 0.
    assert.equal(retryDelayS({ nextDay: true }, at('2024-06-03T05:00:00Z'), jerusalem), 24 * 3600);
    // A window across midnight (22:00–06:00): a call at 23:00 waits for 22:00 tomorrow, one at 02:00 for 22:00 today.
    assert.equal(retryDelayS({ nextDay: true }, at('2024-06-03T23:00:00Z'), { timeZone: 'UTC', dayStartMin: 22 * 60 }), 23 * 3600);
    assert.equal(retryDelayS({ nextDay: true }, at('2024-06-03T02:00:00Z'), { timeZone: 'UTC', dayStartMin: 22 * 60 }), 20 * 3600);
    // The deployment's hours: local midnight (the claim waits for the hours from there).
    assert.equal(retryDelayS({ nextDay: true }, at('2024-06-03T20:30:00Z'), { timeZone: 'Asia/Jerusalem', dayStartMin: 0 }), 30 * 60);
    assert.equal(retryDelayS({ delayS: 77 }, at('2024-06-03T21:30:00Z'), jerusalem), 77, 'a delay is a delay');
    assert.equal(untilLocalTimeMs(at('2024-06-03T11:30:00Z'), 'America/New_York', 8 * 60), 30 * 60_000);
  });
});

describe('slots', () => {
  test('freeSlots: business limit, then run concurrency', () => {
    assert.equal(freeSlots(0, 3), 3);
    assert.equal(freeSlots(3, 3), 0);
    assert.equal(freeSlots(5, 3), 0, 'never negative (limit lowered under load)');
    assert.equal(freeSlots(1, 3, { active: 0, concurrency: 1 }), 1);
    assert.equal(freeSlots(1, 3, { active: 1, concurrency: 1 }), 0);
    assert.equal(freeSlots(2, 3, { active: 0, concurrency: 5 }), 1);
  });
  test('round-robin across runs, within each run’s free slots', () => {
    const runs = [
      { runId: 1, free: 3, items: ['a1', 'a2', 'a3'] },
      { runId: 2, free: 1, items: ['b1', 'b2'] },
      { runId: 3, free: 3, items: ['c1'] },
    ];
    assert.deepEqual(pickRoundRobin(runs, 3), ['a1', 'b1', 'c1']);
    assert.deepEqual(pickRoundRobin(runs, 5), ['a1', 'b1', 'c1', 'a2', 'a3']);
    assert.deepEqual(pickRoundRobin(runs, 0), []);
    assert.deepEqual(pickRoundRobin([], 3), []);
  });
  test('one lead in two runs is picked once', () => {
    const runs = [
      { runId: 1, free: 2, items: [{ lead: 1 }, { lead: 2 }] },
      { runId: 2, free: 2, items: [{ lead: 1 }, { lead: 3 }] },
    ];
    assert.deepEqual(pickRoundRobin(runs, 4, (i) => i.lead).map((i) => i.lead), [1, 3, 2]);
  });
});

describe('calling hours', () => {
  const at = (iso: string) => new Date(iso);
  test('open inside the window in the business time zone', () => {
    const w = parseHours('08:00-21:00');
    assert.equal(callingWindowState(at('2024-06-03T12:00:00Z'), 'UTC', w).open, true);
    // 07:30 in New York (EDT, UTC-4) = 11:30 UTC: closed, opens in 30 minutes.
    const ny = callingWindowState(at('2024-06-03T11:30:00Z'), 'America/New_York', w);
    assert.equal(ny.open, false);
    assert.equal(ny.opensInMs, 30 * 60_000);
    assert.equal(callingWindowState(at('2024-06-03T21:00:00Z'), 'UTC', w).open, false, 'end is exclusive');
  });
  test('windows across midnight, all day, and never', () => {
    const night = parseHours('22:00-06:00');
    assert.equal(callingWindowState(at('2024-06-03T23:00:00Z'), 'UTC', night).open, true);
    assert.equal(callingWindowState(at('2024-06-03T05:59:00Z'), 'UTC', night).open, true);
    assert.equal(callingWindowState(at('2024-06-03T12:00:00Z'), 'UTC', night).open, false);
    assert.equal(callingWindowState(at('2024-06-03T00:00:00Z'), 'UTC', parseHours('00:00-24:00')).open, true);
    assert.equal(callingWindowState(at('2024-06-03T10:00:00Z'), 'UTC', parseHours('10:00-10:00')).open, false);
  });
  test('an unknown time zone counts as UTC rather than throwing', () => {
    assert.equal(callingWindowState(at('2024-06-03T12:00:00Z'), 'Mars/Olympus', parseHours('08:00-21:00')).open, true);
  });
});

describe('CPS budget', () => {
  test('delays spread the reserved span evenly', () => {
    assert.deepEqual(cpsDelays(100, 5, 20), [0, 20, 40, 60, 80]);
    assert.deepEqual(cpsDelays(1000, 2, 20), [960, 980]);
  });
  test('claims stop when the backlog reaches the lookahead', () => {
    assert.equal(cpsAllowance(0, 1000, 50), 51);
    assert.equal(cpsAllowance(990, 1000, 50), 1);
    assert.equal(cpsAllowance(1500, 1000, 50), 0);
    assert.equal(cpsAllowance(0, 1000, 1), 2);
  });
});

describe('HTTP Range', () => {
  test('single ranges', () => {
    assert.deepEqual(parseRange(undefined, 100), { kind: 'full' });
    assert.deepEqual(parseRange('bytes=0-9', 100), { kind: 'partial', start: 0, end: 9 });
    assert.deepEqual(parseRange('bytes=90-', 100), { kind: 'partial', start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-10', 100), { kind: 'partial', start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=50-500', 100), { kind: 'partial', start: 50, end: 99 });
  });
  test('unsatisfiable and ignored', () => {
    assert.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=9-3', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=0-1,5-6', 100), { kind: 'full' });
    assert.deepEqual(parseRange('items=0-1', 100), { kind: 'full' });
  });
});

describe('simulator outcomes', () => {
  test('SIM_OUTCOMES weights', () => {
    const w = parseOutcomes('completed:0.8,no-answer:0.1,busy:0.1');
    assert.equal(pickOutcome(w, 0), 'completed');
    assert.equal(pickOutcome(w, 0.85), 'no-answer');
    assert.equal(pickOutcome(w, 0.95), 'busy');
    assert.throws(() => parseOutcomes('ok:1'));
  });
});

describe('notifyOwner', () => {
  test('exactly one listed dialer owns each business, spread evenly', () => {
    const peers = [4101, 4307, 5120];
    const owned = new Map<number, number>();
    for (let b = 1; b <= 300; b++) {
      const owners = peers.filter((me) => notifyOwner(b, peers, me) === 'me');
      assert.equal(owners.length, 1, `business ${b}`);
      owned.set(owners[0] ?? 0, (owned.get(owners[0] ?? 0) ?? 0) + 1);
      for (const me of peers) if (me !== owners[0]) assert.equal(notifyOwner(b, peers, me), 'other');
    }
    assert.deepEqual([...owned.values()], [100, 100, 100]);
  });

  test('a dialer missing from the list (or without a session) acts on everything', () => {
    assert.equal(notifyOwner(7, [4101, 4307], 9999), 'unknown');
    assert.equal(notifyOwner(7, [4101, 4307], null), 'unknown');
    assert.equal(notifyOwner(7, [], 4101), 'unknown');
    assert.equal(notifyOwner(7, [4101], 4101), 'me');
  });
});
