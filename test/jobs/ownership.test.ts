import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The engine owns its `jobs` table: only src/jobs names it in SQL (STYLE.md, "domains call an
 * engine API"). Domains read and write job state through src/jobs/domain-api.ts, and where a hot
 * statement must see job state in the same statement, through the fragments it exports.
 *
 * Only string and template literals of .ts files are scanned (found with the TypeScript parser),
 * so comments and identifiers that say "jobs" never trip it; .sql files are scanned without their
 * `--` comments. Migrations create the table and are exempt.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = path.join(ROOT, 'src');
const EXEMPT = [path.join(SRC, 'jobs'), path.join(SRC, 'db', 'migrations')];

const TABLE = String.raw`(?:\w+\.)?"?jobs"?`;
const NAMES_JOBS_TABLE = [
  new RegExp(String.raw`\b(?:FROM|JOIN|UPDATE|INTO|TABLE)\s+${TABLE}(?![\w-])`, 'i'),
  // `jobs j` / `jobs AS j`: an alias right after the table name.
  new RegExp(String.raw`(?<![\w-])jobs\s+(?:AS\s+)?j\b`, 'i'),
];

function namesJobsTable(sql: string): boolean {
  return NAMES_JOBS_TABLE.some((re) => re.test(sql));
}

interface Literal {
  line: number;
  text: string;
}

/** Every string and template literal of a TypeScript file; a `${…}` becomes a neutral placeholder. */
function literalsOf(file: string, source: string): Literal[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: Literal[] = [];
  const add = (node: ts.Node, text: string): void => {
    // The line of the match inside a multi-line literal, so a failure points at the statement.
    const start = node.getStart(sf);
    const raw = node.getText(sf);
    const at = Math.max(0, ...NAMES_JOBS_TABLE.map((re) => raw.search(re)).filter((i) => i >= 0).slice(0, 1));
    out.push({ line: sf.getLineAndCharacterOfPosition(start + at).line + 1, text });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) add(node, node.text);
    else if (ts.isTemplateExpression(node)) {
      add(node, [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(' ${…} '));
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function sqlLinesOf(source: string): Literal[] {
  return source.split('\n').map((text, i) => ({ line: i + 1, text: text.replace(/--.*$/, '') }));
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && (e.name.endsWith('.ts') || e.name.endsWith('.sql')))
    .map((e) => path.join(e.parentPath, e.name))
    .filter((f) => !EXEMPT.some((dir) => f.startsWith(dir + path.sep)))
    .sort();
}

test('the matcher finds the table in SQL and ignores prose', () => {
  for (const sql of [
    'SELECT id FROM jobs WHERE business_id = $1',
    'select 1 from   jobs',
    'UPDATE jobs SET total = $3',
    'INSERT INTO jobs (business_id) VALUES ($1)',
    'FROM outbound_runs r JOIN jobs j ON j.id = r.job_id',
    'LEFT JOIN public.jobs AS x ON true',
    'FROM "jobs" WHERE',
    'SELECT j.id FROM x, jobs j',
    'DELETE FROM jobs WHERE id = $1',
  ]) {
    assert.ok(namesJobsTable(sql), sql);
  }
  for (const prose of [
    'Jobs by type and status (whole cluster).',
    'the engine owns the jobs table',
    'FROM jobs_view',
    'SELECT 1 FROM job_events',
    'bulk jobs just started',
    'no jobs-table access here',
    '/jobs/:id/cancel',
    'UPDATE run_items SET status = $1',
  ]) {
    assert.ok(!namesJobsTable(prose), prose);
  }
});

test('only src/jobs names the jobs table in SQL', async () => {
  const files = await filesUnder(SRC);
  assert.ok(files.length > 50, `scanned ${files.length} files under src/`);
  const offenders: string[] = [];
  for (const file of files) {
    const source = await readFile(file, 'utf8');
    const literals = file.endsWith('.sql') ? sqlLinesOf(source) : literalsOf(file, source);
    for (const l of literals) {
      if (namesJobsTable(l.text)) offenders.push(`${path.relative(ROOT, file)}:${l.line}`);
    }
  }
  assert.deepEqual(
    offenders,
    [],
    'these statements name the engine\'s jobs table: call src/jobs/domain-api.ts instead (or, inside one hot statement, its fragments)',
  );
});
