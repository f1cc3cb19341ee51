import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { gateVerdict } from '../../src/gate/verdict.js';

const now = new Date('2026-01-01T12:00:00Z');
const limits = { ratePerMinute: 2, dedupWindowS: 10 };
const none = { activeJobId: null, duplicate: null, recentCount: 0, oldestRecentAt: null };

test('allows when nothing blocks', () => {
  assert.deepEqual(gateVerdict(none, limits, now), { allow: true });
});

test('an active job blocks first, naming the job', () => {
  const v = gateVerdict({ ...none, activeJobId: 7, recentCount: 99 }, limits, now);
  assert.equal(v.allow, false);
  assert.ok(!v.allow && v.code === 'operation_in_progress' && v.jobId === 7);
});

test('a duplicate inside the window is refused until the window ends', () => {
  const v = gateVerdict({ ...none, duplicate: { jobId: 3, createdAt: new Date(now.getTime() - 4_000) } }, limits, now);
  assert.ok(!v.allow && v.code === 'duplicate_request' && v.retryAfterS === 6 && v.jobId === 3);
});

test('rate limit: Retry-After is when the oldest request leaves the 60 s window', () => {
  const v = gateVerdict({ ...none, recentCount: 2, oldestRecentAt: new Date(now.getTime() - 45_500) }, limits, now);
  assert.ok(!v.allow && v.code === 'rate_limited' && v.retryAfterS === 15);
});

test('property: Retry-After is always a whole number of seconds ≥ 1 and ≤ the window', () => {
  fc.assert(
    fc.property(
      fc.option(fc.nat(1000), { nil: null }),
      fc.option(fc.integer({ min: 0, max: 20_000 }), { nil: null }),
      fc.nat(10),
      fc.integer({ min: 0, max: 60_000 }),
      fc.integer({ min: 0, max: 5 }),
      (active, dupAge, recent, oldestAge, rate) => {
        const v = gateVerdict(
          {
            activeJobId: active,
            duplicate: dupAge === null ? null : { jobId: 1, createdAt: new Date(now.getTime() - dupAge) },
            recentCount: recent,
            oldestRecentAt: new Date(now.getTime() - oldestAge),
          },
          { ratePerMinute: rate, dedupWindowS: 10 },
          now,
        );
        if (v.allow) return active === null && recent < rate;
        return Number.isInteger(v.retryAfterS) && v.retryAfterS >= 1 && v.retryAfterS <= 60;
      },
    ),
  );
});
