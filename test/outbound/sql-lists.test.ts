import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { ACTIVE_CALL_STATUSES, sqlList, sqlLiteral } from '../../src/outbound/call-status.js';
import { ACTIVE_SQL } from '../../src/outbound/calls.repo.js';

test('status lists in SQL come from the TypeScript constants', () => {
  assert.equal(ACTIVE_SQL, `(${ACTIVE_CALL_STATUSES.map((s) => `'${s}'`).join(', ')})`);
});

test('the partial indexes on active calls use the same list as the queries (else the planner cannot use them)', async () => {
  const sql = await fs.readFile(new URL('../../src/db/migrations/002_outbound.sql', import.meta.url), 'utf8');
  const predicates = [...sql.matchAll(/CREATE (?:UNIQUE )?INDEX calls_\w+ ON calls [^;]*?WHERE status IN (\([^)]*\))/g)].map((m) => m[1]);
  assert.ok(predicates.length >= 3, 'found the partial indexes');
  for (const p of predicates) assert.equal(p, ACTIVE_SQL);
});

test('only safe constant words become literals', () => {
  assert.equal(sqlList(['no-answer', 'no_answer']), `('no-answer', 'no_answer')`);
  for (const bad of ["o'clock", 'a b', '', 'Busy', '1', "x') OR true --"]) assert.throws(() => sqlLiteral(bad), /not a safe SQL constant/);
});
