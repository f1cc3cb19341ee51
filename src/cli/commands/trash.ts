import type { Command } from 'commander';
import type { Accepted } from '../api-client.js';
import { clientAction, clientFrom, parseId, withClientOptions, type ClientFlags } from './client.js';
import { EXIT } from './exit-codes.js';
import { exitCodeOf, follow, summaryLine } from './jobs.js';

interface RestoreFlags extends ClientFlags {
  watch: boolean;
  json?: boolean;
}

export function registerTrashCommands(program: Command): void {
  const trash = program
    .command('trash')
    .description('Leads that bulk deletes moved to the trash (kept TRASH_RETENTION_DAYS, default 30), and putting them back.')
    .addHelpText('after', `
Examples:
  bulkhead trash restore 41`);

  withClientOptions(trash.command('restore').argument('<job_id>', 'the id of the bulk-delete job whose leads to put back', parseId))
    .description('Put back the leads a bulk delete (delete_leads_bulk, delete_imported_leads) moved to the trash, with their notes, activities and reminders; follow the restore job to its end.')
    .option('--no-watch', 'print the restore job\'s id and exit at once')
    .option('--json', 'print the ended restore job (with --no-watch: the 202 answer) as JSON on stdout')
    .addHelpText('after', `
The restore is a job (restore_leads): the bar goes to stderr, its summary to stdout. Leads come
back with their ids; one whose phone now belongs to another lead stays in the trash and counts
as failed (the job still completes).

Exits 0 when the restore job completes, 1 when it fails or is cancelled, 6 when JOB_ID is not a
bulk delete of your business (404) or is still deleting (409 delete_in_progress: wait for it or
cancel it first), 7 when the gate refuses it (e.g. the same restore twice within seconds).

Examples:
  bulkhead jobs list --type delete_leads_bulk
  bulkhead trash restore 41
  bulkhead trash restore 41 --no-watch`)
    .action(clientAction(async (jobId: number, flags: RestoreFlags) => {
      const client = clientFrom(flags);
      const accepted = await client.request<Accepted>('POST', '/api/v1/trash/restore', { body: { job_id: jobId } });
      if (!flags.watch) {
        console.log(flags.json ? JSON.stringify(accepted) : `job ${accepted.job_id} ${accepted.status} (bulkhead jobs watch ${accepted.job_id})`);
        return EXIT.ok;
      }
      process.stderr.write(`restoring the leads job ${jobId} deleted: job ${accepted.job_id}\n`);
      const job = await follow(client, accepted.job_id);
      console.log(flags.json ? JSON.stringify(job, null, 2) : summaryLine(job));
      return exitCodeOf(job);
    }));
}
