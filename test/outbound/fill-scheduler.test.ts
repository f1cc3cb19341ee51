import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  FILL_CONCURRENCY,
  FillScheduler,
  LOCKED_RETRY_LIMIT,
  LOCKED_RETRY_MS,
  MAX_ROUNDS,
  type FillStep,
  type Timers,
} from '../../src/outbound/fill-scheduler.js';

/** Lets every promise callback that is ready run (the scheduler's reaction to an answered round). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Time moves only when a test advances it. */
class FakeTimers implements Timers {
  now = 0;
  readonly pending: Array<{ at: number; ms: number; fn: () => void }> = [];

  after(ms: number, fn: () => void): () => void {
    const t = { at: this.now + ms, ms, fn };
    this.pending.push(t);
    return () => {
      const i = this.pending.indexOf(t);
      if (i >= 0) this.pending.splice(i, 1);
    };
  }

  /** Runs the timers due within `ms`, in time order, letting the scheduler react to each. */
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      const next = this.pending.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.pending.splice(this.pending.indexOf(next), 1);
      this.now = next.at;
      next.fn();
      await settle();
    }
    this.now = until;
  }
}

/** A scheduler whose rounds wait until the test answers them. */
function setup(opts: { cps?: number; random?: () => number } = {}) {
  const timers = new FakeTimers();
  const calls: number[] = [];
  const open: Array<{ businessId: number; answer: (s: FillStep | Error) => void }> = [];
  const errors: Array<{ err: unknown; businessId: number }> = [];
  const scheduler = new FillScheduler({
    step: (businessId) => {
      calls.push(businessId);
      return new Promise<FillStep>((resolve, reject) =>
        open.push({ businessId, answer: (s) => (s instanceof Error ? reject(s) : resolve(s)) }),
      );
    },
    cps: opts.cps ?? 1000,
    onError: (err, businessId) => errors.push({ err, businessId }),
    timers,
    random: opts.random ?? (() => 0),
  });
  /** Answers the open round of this business. */
  async function answer(businessId: number, step: FillStep | Error): Promise<void> {
    const i = open.findIndex((o) => o.businessId === businessId);
    assert.ok(i >= 0, `business ${businessId} has a round open`);
    const [o] = open.splice(i, 1);
    o?.answer(step);
    await settle();
  }
  const running = () => open.map((o) => o.businessId);
  return { scheduler, timers, calls, answer, running, errors };
}

const DONE: FillStep = { kind: 'done' };
const LOCKED: FillStep = { kind: 'locked' };

describe('fill scheduler: which business is filled when', () => {
  test('requests for a business being filled coalesce into one more fill', async () => {
    const s = setup();
    s.scheduler.request(1);
    s.scheduler.request(1);
    assert.deepEqual(s.calls, [1], 'a queued or running business is not filled twice at once');
    s.scheduler.request(1);
    s.scheduler.request(1);
    await s.answer(1, DONE);
    assert.deepEqual(s.calls, [1, 1], 'one more fill for all the requests made meanwhile');
    await s.answer(1, DONE);
    assert.deepEqual(s.calls, [1, 1]);
    assert.deepEqual(s.running(), []);
  });

  test(`at most ${FILL_CONCURRENCY} fills at once; the others start in request order as fills end`, async () => {
    const s = setup();
    for (let b = 1; b <= FILL_CONCURRENCY + 3; b++) s.scheduler.request(b);
    assert.deepEqual(s.calls, Array.from({ length: FILL_CONCURRENCY }, (_, i) => i + 1));
    await s.answer(3, DONE);
    assert.deepEqual(s.calls.slice(FILL_CONCURRENCY), [FILL_CONCURRENCY + 1]);
    await s.answer(1, DONE);
    await s.answer(2, DONE);
    assert.deepEqual(s.calls.slice(FILL_CONCURRENCY), [FILL_CONCURRENCY + 1, FILL_CONCURRENCY + 2, FILL_CONCURRENCY + 3]);
    assert.equal(s.running().length, FILL_CONCURRENCY);
  });

  test(`a round that claimed and left more goes on at once, at most ${MAX_ROUNDS} rounds per fill`, async () => {
    const s = setup();
    s.scheduler.request(1);
    await s.answer(1, { kind: 'claimed', more: false });
    assert.equal(s.calls.length, 1, 'nothing more to claim: the fill ends');
    s.scheduler.request(1);
    for (let i = 0; i < MAX_ROUNDS; i++) await s.answer(1, { kind: 'claimed', more: true });
    assert.equal(s.calls.length, 1 + MAX_ROUNDS);
    assert.deepEqual(s.running(), [], 'the fill gave its worker back');
  });

  test('a round that threw is reported; the business can be filled again', async () => {
    const s = setup();
    s.scheduler.request(1);
    await s.answer(1, new Error('connection lost'));
    assert.equal(s.errors.length, 1);
    assert.equal(s.errors[0]?.businessId, 1);
    s.scheduler.request(1);
    assert.deepEqual(s.calls, [1, 1]);
  });
});

describe('fill scheduler: a taken slot lock', () => {
  test(`a fill that must happen retries ${LOCKED_RETRY_MS}-${2 * LOCKED_RETRY_MS} ms later (jitter)`, async () => {
    let r = 0;
    const s = setup({ random: () => r });
    s.scheduler.request(1);
    await s.answer(1, LOCKED);
    assert.deepEqual(s.timers.pending.map((t) => t.ms), [LOCKED_RETRY_MS]);
    await s.timers.advance(LOCKED_RETRY_MS - 1);
    assert.equal(s.calls.length, 1, 'not before its time');
    await s.timers.advance(1);
    assert.equal(s.calls.length, 2);
    r = 0.999;
    await s.answer(1, LOCKED);
    const delay = s.timers.pending[0]?.ms ?? 0;
    assert.ok(delay > 1.99 * LOCKED_RETRY_MS && delay < 2 * LOCKED_RETRY_MS, `delay ${delay}`);
  });

  test(`it gives up after ${LOCKED_RETRY_LIMIT} retries in a row; any other outcome starts the count over (CPS-busy too)`, async () => {
    const s = setup();
    /** Answers `locked` to every round until no retry is scheduled; returns how many retries there were. */
    async function retriesUntilGivenUp(): Promise<number> {
      let retries = 0;
      for (;;) {
        await s.answer(1, LOCKED);
        if (s.timers.pending.length === 0) return retries;
        retries++;
        await s.timers.advance(2 * LOCKED_RETRY_MS);
      }
    }
    s.scheduler.request(1);
    assert.equal(await retriesUntilGivenUp(), LOCKED_RETRY_LIMIT);

    s.scheduler.request(1);
    for (let i = 0; i < LOCKED_RETRY_LIMIT / 2; i++) {
      await s.answer(1, LOCKED);
      await s.timers.advance(2 * LOCKED_RETRY_MS);
    }
    await s.answer(1, { kind: 'cps_busy', retryInMs: 5 });
    await s.timers.advance(5);
    assert.equal(await retriesUntilGivenUp(), LOCKED_RETRY_LIMIT, 'the CPS-busy round reset the count');

    s.scheduler.request(1);
    await s.answer(1, LOCKED);
    await s.timers.advance(2 * LOCKED_RETRY_MS);
    await s.answer(1, { kind: 'claimed', more: true });
    assert.equal(await retriesUntilGivenUp(), LOCKED_RETRY_LIMIT, 'a claimed round reset the count, even with the lock taken in the same fill');
  });

  test('a `try` fill gives up at once; a `must` request made meanwhile still happens', async () => {
    const s = setup();
    s.scheduler.request(1, 'try');
    await s.answer(1, LOCKED);
    assert.equal(s.timers.pending.length, 0);
    assert.deepEqual(s.running(), []);

    s.scheduler.request(1, 'try');
    s.scheduler.request(1, 'must');
    await s.answer(1, LOCKED);
    assert.equal(s.timers.pending.length, 0, 'the running fill was only a try');
    assert.deepEqual(s.running(), [1], 'the must request fills again');
    await s.answer(1, LOCKED);
    assert.equal(s.timers.pending.length, 1, 'and retries');
  });
});

describe('fill scheduler: waiting for CPS budget', () => {
  test('one wake-up for all waiters, a tenth of a second of budget of them at a time, in FIFO order', async () => {
    const s = setup({ cps: 20 });
    for (const b of [5, 3, 9, 1, 7]) s.scheduler.request(b);
    await s.answer(5, { kind: 'cps_busy', retryInMs: 37 });
    for (const b of [3, 9, 1, 7]) await s.answer(b, { kind: 'cps_busy', retryInMs: 500 });
    assert.deepEqual(s.timers.pending.map((t) => t.ms), [37], 'the first waiter set the wake-up');
    s.calls.length = 0;
    await s.timers.advance(37);
    assert.deepEqual(s.calls, [5, 3], '20 CPS: two per wake-up');
    assert.deepEqual(s.timers.pending.map((t) => t.ms), [100], 'the others wake 100 ms later');
    await s.timers.advance(100);
    assert.deepEqual(s.calls, [5, 3, 9, 1]);
    await s.timers.advance(100);
    assert.deepEqual(s.calls, [5, 3, 9, 1, 7]);
    assert.equal(s.timers.pending.length, 0, 'nobody waits: no wake-up');
  });

  test('at a low CPS one business per wake-up, every 1/cps seconds', async () => {
    const s = setup({ cps: 1 });
    s.scheduler.request(1);
    s.scheduler.request(2);
    await s.answer(1, { kind: 'cps_busy', retryInMs: 0 });
    await s.answer(2, { kind: 'cps_busy', retryInMs: 0 });
    assert.deepEqual(s.timers.pending.map((t) => t.ms), [1], 'never a 0 ms timer');
    await s.timers.advance(1);
    assert.deepEqual(s.calls.slice(2), [1]);
    assert.deepEqual(s.timers.pending.map((t) => t.ms), [1000]);
  });
});

describe('fill scheduler: stop', () => {
  test('stop starts nothing new, cancels pending retries and wake-ups, and waits for the fills in flight', async () => {
    const s = setup();
    s.scheduler.request(1);
    s.scheduler.request(2);
    s.scheduler.request(3);
    await s.answer(1, LOCKED);
    await s.answer(2, { kind: 'cps_busy', retryInMs: 50 });
    assert.equal(s.timers.pending.length, 2);
    let stopped = false;
    const stopping = s.scheduler.stop().then(() => (stopped = true));
    assert.equal(s.timers.pending.length, 0);
    s.scheduler.request(4);
    await settle();
    assert.equal(stopped, false, 'business 3 is still being filled');
    await s.answer(3, { kind: 'claimed', more: true });
    await stopping;
    assert.deepEqual(s.calls, [1, 2, 3], 'no round after stop, not even the claimed round\'s next one');
    await s.scheduler.stop();
  });
});
