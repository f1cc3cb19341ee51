import fs from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { Accepted, ImportSummary } from '../api-client.js';
import { clientAction, clientFrom, withClientOptions, type ClientFlags } from './client.js';
import { EXIT, UsageError } from './exit-codes.js';
import { exitCodeOf, follow, summaryLine } from './jobs.js';

interface ImportFlags extends ClientFlags {
  watch: boolean;
  json?: boolean;
  errors: number;
}

/** The API's limit on an import body is generous; a file this large is surely a mistake. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

function nonNegative(value: string): number {
  if (!/^\d{1,6}$/.test(value)) throw new InvalidArgumentError('expected a whole number (0 lists none).');
  return Number(value);
}

async function readCsv(file: string): Promise<string> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch {
    throw new UsageError(`Cannot read ${file}: no such file.`);
  }
  if (!stat.isFile()) throw new UsageError(`${file} is not a file.`);
  if (stat.size > MAX_FILE_BYTES) throw new UsageError(`${file} is larger than ${MAX_FILE_BYTES / 1024 / 1024} MB; split it.`);
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`Cannot read ${file}: ${(err as Error).message}`);
  }
}

function importReport(s: ImportSummary, maxErrors: number): string {
  const lines = [
    `import ${s.id}${s.filename ? ` (${s.filename})` : ''} ${s.status}: ${s.total} rows — inserted ${s.inserted}, duplicates ${s.duplicates}, invalid ${s.invalid}`,
  ];
  for (const e of s.errors.slice(0, maxErrors)) lines.push(`  row ${e.row}: ${e.message}`);
  const more = Math.max(s.invalid, s.errors.length) - Math.min(maxErrors, s.errors.length);
  if (more > 0) lines.push(`  … and ${more} more invalid rows (GET /api/v1/imports/${s.id})`);
  return lines.join('\n');
}

export function registerImportCommand(program: Command): void {
  withClientOptions(program.command('import').argument('<file>', 'a CSV file with a header row: phone,name,email,tags'))
    .description('Import leads from a CSV file: upload it, follow the import job, and print the summary.')
    .option('--no-watch', 'print the job and import ids and exit at once')
    .option('--json', 'print the import summary as JSON on stdout')
    .option('--errors <n>', 'how many invalid rows to list', nonNegative, 20)
    .addHelpText('after', `
Columns: phone (required; local numbers use the business's country), name, email, tags
(separated by ";" or "|"). Rows are validated by the import job: invalid rows are reported with
their reason, phones already among your leads count as duplicates.

Exits 0 when the import job completes (even with invalid rows), 1 when it fails or is cancelled,
7 when the gate refuses it (e.g. the same file again within seconds: duplicate_request).

Examples:
  bulkhead import leads.csv
  bulkhead import leads.csv --json | jq .inserted
  bulkhead import leads.csv --no-watch`)
    .action(clientAction(async (file: string, flags: ImportFlags) => {
      const client = clientFrom(flags);
      const csv = await readCsv(file);
      const accepted = await client.request<Accepted>('POST', '/api/v1/leads/import', {
        raw: { contentType: 'text/csv; charset=utf-8', data: csv },
        query: { filename: path.basename(file).slice(0, 200) },
      });
      const importId = accepted.import_id;
      if (!flags.watch || importId === undefined) {
        console.log(flags.json ? JSON.stringify(accepted) : `job ${accepted.job_id} ${accepted.status}${importId === undefined ? '' : `, import ${importId}`} (bulkhead jobs watch ${accepted.job_id})`);
        return EXIT.ok;
      }
      process.stderr.write(`uploaded ${path.basename(file)}: import ${importId}, job ${accepted.job_id}\n`);
      const job = await follow(client, accepted.job_id);
      const summary = await client.request<ImportSummary>('GET', `/api/v1/imports/${importId}`);
      if (flags.json) console.log(JSON.stringify(summary, null, 2));
      else {
        if (job.status !== 'completed') console.log(summaryLine(job));
        console.log(importReport(summary, flags.errors));
      }
      return exitCodeOf(job);
    }));
}
