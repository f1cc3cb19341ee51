import type { Command } from 'commander';
import type { Accepted, Job } from '../api-client.js';
import { clientAction, clientFrom, withClientOptions, type ClientFlags } from './client.js';
import { EXIT } from './exit-codes.js';
import { exitCodeOf, follow, summaryLine } from './jobs.js';

interface SyncFlags extends ClientFlags {
  /** undefined: neither flag given (watching is the default). */
  watch?: boolean;
  json?: boolean;
}

/** What the sync job's result says it did, for a person: "imported 6 receipts, 2 already known, 2 skipped (no_amount 1, …)". */
export function syncSummary(job: Job & { result?: Record<string, unknown> | null }): string | null {
  const r = job.result;
  if (!r || typeof r.imported !== 'number') return null;
  const known = typeof r.already_known === 'number' ? r.already_known : 0;
  const skipped = r.skipped && typeof r.skipped === 'object' ? Object.entries(r.skipped as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === 'number') : [];
  const skippedTotal = skipped.reduce((n, [, c]) => n + c, 0);
  const why = skipped.length > 0 ? ` (${skipped.map(([reason, c]) => `${reason} ${c}`).join(', ')})` : '';
  const mode = r.mode === 'full' ? (r.fell_back === true ? 'full sync (the mailbox history had expired)' : 'full sync') : 'incremental sync';
  return `${mode}: imported ${r.imported} receipt${r.imported === 1 ? '' : 's'}, ${known} already known, ${skippedTotal} skipped${why}`;
}

export function registerReceiptsCommands(program: Command): void {
  const receipts = program
    .command('receipts')
    .description('Receipts, and syncing them from the business\'s connected Gmail mailbox.')
    .addHelpText('after', `
Examples:
  bulkhead receipts sync
  bulkhead receipts sync --json`);

  withClientOptions(receipts.command('sync'))
    .description('Sync receipts from the connected Gmail mailbox now (sync_gmail_receipts) and follow the job to its end.')
    .option('--watch', 'follow the sync job to its end with a progress bar (the default)')
    .option('--no-watch', 'print the sync job\'s id and exit at once')
    .option('--json', 'print the ended sync job (with --no-watch: the 202 answer) as JSON on stdout')
    .addHelpText('after', `
The sync is a job: the first one reads the last 12 months of receipts and invoices, later ones
only what arrived since (the mailbox's history). The bar goes to stderr; the summary (the job's
line, then how many receipts were imported, already known and skipped) to stdout.
Connect the mailbox first in the dashboard (Receipts) or with POST /api/v1/integrations/gmail/connect.

Exits 0 when the sync completes, 1 when it fails (e.g. the mailbox must be connected again) or is
cancelled, 5 for a token whose role may not sync (it takes an admin or owner: 403), 6 when no mailbox is connected (409),
7 when the gate refuses it (one sync at a time per business, a few per minute).

Examples:
  bulkhead receipts sync --watch
  bulkhead receipts sync --json | jq .result.imported
  bulkhead receipts sync --no-watch`)
    .action(clientAction(async (flags: SyncFlags) => {
      const client = clientFrom(flags);
      const accepted = await client.request<Accepted>('POST', '/api/v1/receipts/sync', { body: {} });
      if (flags.watch === false) {
        console.log(flags.json ? JSON.stringify(accepted) : `job ${accepted.job_id} ${accepted.status} (bulkhead jobs watch ${accepted.job_id})`);
        return EXIT.ok;
      }
      process.stderr.write(`syncing receipts from Gmail: job ${accepted.job_id}\n`);
      const job = await follow(client, accepted.job_id);
      // GET /jobs/{id} answers the whole job; the CLI's Job type names only the fields most commands read.
      const summary = syncSummary(job as Job & { result?: Record<string, unknown> | null });
      console.log(flags.json ? JSON.stringify(job, null, 2) : summary ? `${summaryLine(job)}\n  ${summary}` : summaryLine(job));
      return exitCodeOf(job);
    }));
}
