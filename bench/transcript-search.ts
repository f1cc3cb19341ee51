/**
 * Transcript search at scale: the `simple` full-text configuration (what migration 014 ships: a
 * generated tsvector + GIN, ranked by ts_rank) against pg_trgm (GIN gin_trgm_ops on the text,
 * ILIKE, ranked by word_similarity), over generated Hebrew and English call transcripts.
 *
 *   npx tsx bench/transcript-search.ts [--rows 1000000] [--queries 200]
 *
 * One table per contender, copied from `transcripts` without its foreign keys (LIKE … INCLUDING
 * ALL) so no calls rows are needed; 1 000 businesses, one of them holding 10 % of the rows (a big
 * tenant), the rest evenly. Words are drawn Zipf-like from ~1 100 tokens (Hebrew bases with the
 * prefixes ו ה ב ל ש, English bases with -s/-ing), 40 per transcript. Queries: the page the API
 * asks for (LIMIT 51) for a random word of the vocabulary (common and rare alike), for the big
 * tenant and for a small one. Writes "## Transcript search" in docs/BENCHMARKS.md.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBenchDatabase } from './lib/db.js';
import { startBenchServer } from './lib/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const HE = `שלום תודה לקוח תור מחר היום שלישי רביעי חמישי ראשון שני בוקר ערב צהריים מרפאה רופא פגישה ביטול
  אישור מחיר הצעה הנחה חשבונית תשלום כרטיס אשראי העברה בנקאית כתובת משלוח הזמנה מוצר החזרה אחריות תקלה
  טכנאי שירות מוקד נציג מנהל חוזה מנוי חידוש ביטוח רכב דירה משכנתא הלוואה ריבית חשבון יתרה סניף פקס מייל
  טלפון נייד מספר שם משפחה כתובת עיר רחוב דקות שעה שבוע חודש שנה דחוף חשוב מעוניין לא מעוניין אולי בטח
  בסדר מצוין רגע להמתין לחזור אליך מאוחר מוקדם תזכורת סליחה בבקשה עזרה שאלה תשובה בעיה פתרון מחלקה
  גבייה מכירות תמיכה קבלה חשבוניות הזמנות מבצע חבילה גלישה שיחות הודעות מכשיר החלפה תיקון זמן המתנה`.split(/\s+/);
const EN = `hello thanks customer appointment tomorrow today monday tuesday wednesday thursday morning evening
  clinic doctor meeting cancel confirm price quote discount invoice payment card transfer address delivery
  order product return warranty problem technician service center agent manager contract subscription renew
  insurance car apartment mortgage loan interest account balance branch email phone mobile number name city
  street minutes hour week month year urgent important interested maybe sure fine great moment wait call back
  later early reminder sorry please help question answer issue solution department billing sales support
  receipt package plan data device replace repair schedule available refund credit voicemail message`.split(/\s+/);

function vocabulary(): string[] {
  const he = HE.filter(Boolean).flatMap((w) => [w, ...['ו', 'ה', 'ב', 'ל', 'ש'].map((p) => p + w)]);
  const en = EN.filter(Boolean).flatMap((w) => [w, `${w}s`, `${w}ing`]);
  const words = [...new Set([...he, ...en])];
  // A fixed shuffle: frequency rank independent of language.
  let seed = 42;
  const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  for (let i = words.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [words[i], words[j]] = [words[j] as string, words[i] as string];
  }
  return words;
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  return Number.isFinite(v) && v > 0 ? v : def;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

interface Contender {
  name: string;
  table: string;
  index: string;
  query: string;
}

const CONTENDERS: Contender[] = [
  {
    name: 'simple full-text (shipped)',
    table: 'bt_fts',
    index: `CREATE INDEX bt_fts_search ON bt_fts USING gin (search)`,
    // The statement of src/transcripts/transcripts.repo.ts searchTranscripts, first page.
    query: `SELECT call_id, rank FROM (
              SELECT call_id, ts_rank(search, query) AS rank
                FROM bt_fts, websearch_to_tsquery('simple', $2) query
               WHERE business_id = $1 AND status = 'completed' AND search @@ query) hits
             ORDER BY rank DESC, call_id DESC LIMIT 51`,
  },
  {
    name: 'pg_trgm',
    table: 'bt_trgm',
    index: `CREATE INDEX bt_trgm_text ON bt_trgm USING gin (text gin_trgm_ops)`,
    query: `SELECT call_id, word_similarity($2, text) AS rank FROM bt_trgm
             WHERE business_id = $1 AND status = 'completed' AND text ILIKE '%' || $2 || '%'
             ORDER BY rank DESC, call_id DESC LIMIT 51`,
  },
];

async function main(): Promise<void> {
  const rows = arg('rows', 1_000_000);
  const queries = arg('queries', 200);
  const words = vocabulary();
  const server = await startBenchServer();
  const db = await createBenchDatabase(server, 'transcript_search');
  const lines: string[] = [];
  const results: Array<{ name: string; load: number; index: number; size: string; big: number[]; small: number[] }> = [];
  try {
    await db.pool.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    for (const c of CONTENDERS) {
      // The transcripts table's columns, generated tsvector and unique indexes, without its foreign keys.
      await db.pool.query(`CREATE TABLE ${c.table} (LIKE transcripts INCLUDING DEFAULTS INCLUDING GENERATED)`);
      if (c.table === 'bt_trgm') await db.pool.query(`ALTER TABLE bt_trgm DROP COLUMN search`);
    }
    const n = words.length;
    let t0 = performance.now();
    // 40 Zipf-like words per row (random()^3 favours the first words of the shuffled vocabulary);
    // `40 + g * 0` makes the inner query depend on the row, so it is evaluated once per row.
    await db.pool.query(
      `INSERT INTO bt_fts (business_id, call_id, call_sid, status, language, text)
       SELECT CASE WHEN g % 10 = 0 THEN 1 ELSE 2 + g % 999 END, g, 'CA' || lpad(to_hex(g), 32, '0'), 'completed', 'he',
              array_to_string(ARRAY(SELECT ($2::text[])[1 + floor(power(random(), 3) * $3)::int] FROM generate_series(1, 40 + g * 0)), ' ')
         FROM generate_series(1, $1) g`,
      [rows, words, n],
    );
    const loadFts = performance.now() - t0;
    process.stderr.write(`generated ${rows} transcripts in ${(loadFts / 1000).toFixed(1)} s\n`);
    t0 = performance.now();
    await db.pool.query(`INSERT INTO bt_trgm (business_id, call_id, call_sid, status, language, text) SELECT business_id, call_id, call_sid, status, language, text FROM bt_fts`);
    const loadTrgm = performance.now() - t0;
    for (const c of CONTENDERS) {
      t0 = performance.now();
      await db.pool.query(c.index);
      await db.pool.query(`CREATE INDEX ${c.table}_biz ON ${c.table} (business_id)`);
      await db.pool.query(`VACUUM ANALYZE ${c.table}`);
      const index = performance.now() - t0;
      const { rows: sz } = await db.pool.query<{ s: string }>(`SELECT pg_size_pretty(pg_relation_size($1::regclass)) AS s`, [c.table === 'bt_fts' ? 'bt_fts_search' : 'bt_trgm_text']);
      process.stderr.write(`${c.name}: index in ${(index / 1000).toFixed(1)} s (${sz[0]?.s ?? '?'})\n`);
      const time = async (business: number): Promise<number[]> => {
        const out: number[] = [];
        // At most `queries`, and at most 60 s per tenant: a slow contender is measured on fewer.
        const until = performance.now() + 60_000;
        for (let i = 0; i < queries && performance.now() < until; i++) {
          const word = words[Math.floor(Math.random() * n)] ?? 'שלום';
          const s = performance.now();
          await db.pool.query(c.query, [business, word]);
          out.push(performance.now() - s);
        }
        return out;
      };
      await db.pool.query(`SELECT count(*) FROM ${c.table}`); // warm the cache
      const big = await time(1);
      const small = await time(500);
      results.push({ name: c.name, load: c.table === 'bt_fts' ? loadFts : loadTrgm, index, size: sz[0]?.s ?? '?', big, small });
      process.stderr.write(`${c.name}: big tenant p50 ${pct(big, 50).toFixed(1)} ms p99 ${pct(big, 99).toFixed(1)} ms; small p50 ${pct(small, 50).toFixed(1)} ms p99 ${pct(small, 99).toFixed(1)} ms\n`);
    }
  } finally {
    await db.drop();
    await server.stop();
  }
  const when = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const cmd = `npx tsx bench/transcript-search.ts --rows ${rows} --queries ${queries}`;
  lines.push('## Transcript search', '');
  lines.push(`\`GET /calls?q=\` over ${rows.toLocaleString('en-US')} generated transcripts (Hebrew and English, 40 words each, Zipf-like over ~${words.length.toLocaleString('en-US')} tokens; 1,000 businesses, one holding 10 %). The page the API asks for (51 rows, ranked) for ${queries} random words of the vocabulary per tenant, one at a time, warm cache.`, '');
  lines.push(`Measured ${when} by \`${cmd}\` on ${os.cpus().length} cores (load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}), Node ${process.version}, ${server.kind} PostgreSQL ${server.version}.`, '');
  lines.push(`| contender | index build | index size | big tenant (${(rows / 10).toLocaleString('en-US')} rows) p50 / p99 (queries) | small tenant (~${Math.round((rows * 0.9) / 999).toLocaleString('en-US')} rows) p50 / p99 (queries) |`, '|---|---|---|---|---|');
  for (const r of results) {
    lines.push(`| ${r.name} | ${(r.index / 1000).toFixed(1)} s | ${r.size} | ${pct(r.big, 50).toFixed(1)} / **${pct(r.big, 99).toFixed(1)} ms** (${r.big.length}) | ${pct(r.small, 50).toFixed(1)} / **${pct(r.small, 99).toFixed(1)} ms** (${r.small.length}) |`);
  }
  lines.push('');
  const section = `${lines.join('\n')}\n`;
  const file = path.join(ROOT, 'docs', 'BENCHMARKS.md');
  let text = await fs.readFile(file, 'utf8');
  const start = text.indexOf('\n## Transcript search\n');
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + 1);
    // Keep the hand-written analysis under the table (everything from "**Analysis**" on).
    const old = text.slice(start + 1, next >= 0 ? next + 1 : undefined);
    const analysis = old.indexOf('**Analysis**');
    text = text.slice(0, start + 1) + section + (analysis >= 0 ? `\n${old.slice(analysis)}` : '') + (next >= 0 ? text.slice(next + 1) : '');
  } else {
    const notes = text.indexOf('\n## Notes\n');
    text = notes >= 0 ? `${text.slice(0, notes + 1)}${section}\n${text.slice(notes + 1)}` : `${text.trimEnd()}\n\n${section}`;
  }
  await fs.writeFile(file, text);
  console.log(section);
}

await main();
process.exit(0);
