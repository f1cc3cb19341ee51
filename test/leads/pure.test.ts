import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { distinctSorted, nextTargets, checkpointNumber } from '../../src/jobs/batches.js';
import { parseCsvImport } from '../../src/leads/import-csv.js';
import { planImportBatch, splitTagCell, validateImportRow } from '../../src/leads/import-rows.js';
import { likeContains, listLeadsQuery } from '../../src/leads/leads.repo.js';
import { normalizePhone } from '../../src/leads/phone.js';
import { hasAtMostTwoDecimals } from '../../src/receipts/receipts.routes.js';
import { PermanentError, ValidationError } from '../../src/lib/errors.js';
import { english } from '../../src/lib/messages.js';

describe('normalizePhone', () => {
  test('local numbers use the default country; international ones ignore it', () => {
    assert.equal(normalizePhone('(212) 555-0100', 'US'), '+12125550100');
    assert.equal(normalizePhone('020 7946 0958', 'GB'), '+442079460958');
    assert.equal(normalizePhone('+44 20 7946 0958', 'US'), '+442079460958');
    assert.equal(normalizePhone('  +1 212-555-0100 ', 'GB'), '+12125550100');
  });
  test('invalid numbers are null', () => {
    for (const bad of ['', '12345', '555-0100', 'call me', '+999 123', '1'.repeat(60)]) {
      assert.equal(normalizePhone(bad, 'US'), null, bad);
    }
  });
});

describe('listLeadsQuery', () => {
  test('only placeholders enter the SQL, every filter is business-scoped', () => {
    const q = listLeadsQuery(7, { status: "x' OR 1=1 --", tag: 'vip', q: '50%_off', afterId: 10, limit: 51 });
    assert.match(q.text, /WHERE business_id = \$1 AND status = \$2 AND tags @> ARRAY\[\$3\]::text\[\]/);
    assert.ok(!q.text.includes('OR 1=1'));
    assert.deepEqual(q.values, [7, "x' OR 1=1 --", 'vip', '%50\\%\\_off%', 10, 51]);
    assert.match(q.text, /ORDER BY id LIMIT \$6$/);
  });
  test('a q with digits also matches phones by digits', () => {
    const q = listLeadsQuery(1, { q: '(212) 555', limit: 10 });
    assert.ok(q.values?.includes('%212555%'));
    assert.equal(likeContains('a\\b'), '%a\\\\b%');
  });
});

describe('import rows', () => {
  test('splitTagCell splits on ; and |', () => {
    assert.deepEqual(splitTagCell(' vip; spring|west ;; '), ['vip', 'spring', 'west']);
  });

  test('parseCsvImport reads headers in any order and case', () => {
    const rows = parseCsvImport('\uFEFFName,PHONE,tags,extra\nAda,(212) 555-0100,a;b,zzz\n\n,+442079460958,,\n');
    assert.deepEqual(rows, [{ name: 'Ada', phone: '(212) 555-0100', tags: ['a', 'b'] }, { phone: '+442079460958' }]);
  });

  test('parseCsvImport refuses a CSV without phone, an empty one, or a broken one', () => {
    assert.throws(() => parseCsvImport('name,email\nA,a@b.c\n'), ValidationError);
    assert.throws(() => parseCsvImport('phone\n'), ValidationError);
    assert.throws(() => parseCsvImport(''), ValidationError);
    assert.throws(() => parseCsvImport('phone,name\n"2125550100,unclosed\n'), ValidationError);
  });

  test('validateImportRow applies the POST /leads rules', () => {
    assert.deepEqual(validateImportRow({ phone: '(212) 555-0100', name: ' Ada ', tags: 'x;x;y' }, 'US'), {
      ok: true,
      lead: { phone: '+12125550100', name: 'Ada', email: null, tags: ['x', 'y'] },
    });
    assert.deepEqual(validateImportRow({ phone: 2125550100 }, 'US'), { ok: true, lead: { phone: '+12125550100', name: null, email: null, tags: [] } });
    const bad = (row: Record<string, unknown>) => {
      const v = validateImportRow(row, 'US');
      assert.equal(v.ok, false);
      return v.ok ? '' : english(v.reason);
    };
    assert.match(bad({}), /^phone: is required/);
    assert.match(bad({ phone: '123' }), /^phone: "123" is not a valid/);
    assert.match(bad({ phone: '2125550100', email: 'nope' }), /^email:/);
    assert.match(bad({ phone: '2125550100', name: 'x'.repeat(201) }), /^name:/);
    assert.match(bad({ phone: '2125550100', tags: [1] }), /^tags:/);
    assert.match(bad({ phone: { nested: true } }), /^phone:/);
  });

  test('planImportBatch counts in-batch duplicates and keeps row numbers of errors', () => {
    const plan = planImportBatch(
      [
        { row_no: 1, data: { phone: '2125550100' } },
        { row_no: 2, data: { phone: '+1 212 555 0100' } },
        { row_no: 3, data: { phone: 'x' } },
        { row_no: 4, data: { phone: '2125550101' } },
      ],
      'US',
    );
    assert.deepEqual(plan.leads.map((l) => l.phone), ['+12125550100', '+12125550101']);
    assert.equal(plan.duplicatesInBatch, 1);
    assert.deepEqual(plan.errors.map((e) => e.row), [3]);
  });
});

describe('checkpoints', () => {
  test('nextTargets walks the targets by offset', () => {
    const t = [1, 2, 3, 4, 5];
    assert.deepEqual(nextTargets(t, null, 2), { ids: [1, 2], next: { offset: 2 }, done: false });
    assert.deepEqual(nextTargets(t, { offset: 4 }, 2), { ids: [5], next: { offset: 5 }, done: true });
    assert.deepEqual(nextTargets(t, { offset: 5 }, 2), { ids: [], next: { offset: 5 }, done: true });
  });
  test('a malformed checkpoint is permanent', () => {
    assert.throws(() => checkpointNumber({ offset: -1 }, 'offset'), PermanentError);
    assert.throws(() => checkpointNumber('x', 'offset'), PermanentError);
    assert.equal(checkpointNumber(undefined, 'offset'), 0);
  });
  test('distinctSorted', () => {
    assert.deepEqual(distinctSorted([5, 1, 5, 3, 1]), [1, 3, 5]);
  });
});

test('hasAtMostTwoDecimals', () => {
  for (const ok of [0, 1, 1.5, 12.34, 999999999999.99, 0.07]) assert.ok(hasAtMostTwoDecimals(ok), String(ok));
  for (const bad of [1.234, 0.001, 12.345]) assert.ok(!hasAtMostTwoDecimals(bad), String(bad));
});
