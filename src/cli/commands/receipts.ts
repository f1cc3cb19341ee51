import type { Command } from 'commander';
import type { Accepted } from '../api-client.js';
import { clientAction, clientFrom, withClientOptions, type ClientFlags } from './client.js';
import { EXIT } from './exit-codes.js';
import { exitCodeOf, follow, summaryLine } from './jobs.js';

interface SyncFlags extends ClientFlags {
  watch: boolean;
  json?: boolean;
}

export function registerReceiptsCommands(program: Command): void {
  const receipts = program
    .command('receipts')
    .description('Receipts, and syncing them from the business\'s connected Gmail mailbox.')
    .addHelpText('after', `
Examples:
  bulkhead receipts sync`);

  withClientOptions(receipts.command('sync'))
    .description('Sync receipts from the connected Gmail mailbox now (sync_gmail_receipts) and follow the job to its end.')
    .option('--no-watch', 'print the sync job\'s id and exit at once')
    .option('--json', 'print the ended sync job (with --no-watch: the 202 answer) as JSON on stdout')
    .addHelpText('after', `
The sync is a job: the first one reads the last 12 months of receipts and invoices, later ones
only what arrived since (the mailbox's history). The bar goes to stderr, its summary to stdout.
Connect the mailbox first in the dashboard (Receipts) or with POST /api/v1/integrations/gmail/connect.

Exits 0 when the sync completes, 1 when it fails (e.g. the mailbox must be connected again) or is
cancelled, 5 for a role that may not sync (admin or owner), 6 when no mailbox is connected (409),
7 when the gate refuses it (one sync at a time per business, a few per minute).

Examples:
  bulkhead receipts sync
  bulkhead receipts sync --no-watch`)
    .action(clientAction(async (flags: SyncFlags) => {
      const client = clientFrom(flags);
      const accepted = await client.request<Accepted>('POST', '/api/v1/receipts/sync', { body: {} });
      if (!flags.watch) {
        console.log(flags.json ? JSON.stringify(accepted) : `job ${accepted.job_id} ${accepted.status} (bulkhead jobs watch ${accepted.job_id})`);
        return EXIT.ok;
      }
      process.stderr.write(`syncing receipts from Gmail: job ${accepted.job_id}\n`);
      const job = await follow(client, accepted.job_id);
      console.log(flags.json ? JSON.stringify(job, null, 2) : summaryLine(job));
      return exitCodeOf(job);
    }));
}
