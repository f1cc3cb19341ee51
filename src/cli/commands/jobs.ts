import { Option, type Command } from 'commander';
import { JOB_STATUSES, type ApiClient, type Job, type Page } from '../api-client.js';
import { clientAction, clientFrom, parseId, parsePositiveInt, withClientOptions, type ClientFlags } from './client.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { formatDuration, ProgressReporter } from './progress.js';
import { watchJob } from './watch.js';

interface ListFlags extends ClientFlags {
  status?: string;
  type?: string;
  limit: number;
  json?: boolean;
}

interface WatchFlags extends ClientFlags {
  json?: boolean;
}

const TRANSITIONS = {
  pause: { done: 'paused', help: 'Pause a job at its next batch boundary (a queued job pauses at once).' },
  resume: { done: 'resumed', help: 'Resume a paused job; it continues from its checkpoint.' },
  cancel: { done: 'cancelled', help: 'Cancel a job at its next batch boundary; what it already did stays done and is reported.' },
} as const;

/** The exit code for how a job ended: 0 completed, 1 failed or cancelled. */
export const exitCodeOf = (job: Job): ExitCode => (job.status === 'completed' ? EXIT.ok : EXIT.failure);

export function summaryLine(job: Job): string {
  const took = job.started_at && job.finished_at ? ` in ${formatDuration((Date.parse(job.finished_at) - Date.parse(job.started_at)) / 1000)}` : '';
  const line = `job ${job.id} ${job.type} ${job.status}: ${job.processed}/${job.total} processed, ${job.succeeded} succeeded, ${job.failed} failed${took}`;
  return job.last_error && job.status !== 'completed' ? `${line}\n  last error: ${job.last_error}` : line;
}

/**
 * Follows a job with a progress bar on stderr until it ends. Ctrl-C stops watching (the job goes
 * on) and exits 130.
 */
export async function follow(client: ApiClient, jobId: number): Promise<Job> {
  const reporter = new ProgressReporter(process.stderr);
  const abort = new AbortController();
  const onSigint = () => {
    reporter.stop();
    process.stderr.write(`stopped watching job ${jobId}; it goes on (bulkhead jobs cancel ${jobId} stops it)\n`);
    abort.abort();
    process.exit(EXIT.interrupted);
  };
  process.once('SIGINT', onSigint);
  try {
    return await watchJob(client, jobId, { onJob: (job) => reporter.update(job), signal: abort.signal });
  } finally {
    process.off('SIGINT', onSigint);
    reporter.stop();
  }
}

function listTable(jobs: Job[]): string {
  const rows = jobs.map((j) => [
    String(j.id),
    j.type,
    j.cancel_requested && j.status === 'running' ? 'running*' : j.status,
    `${Math.floor(j.progress * 100)}%`,
    `${j.processed}/${j.total}`,
    j.created_at.replace('T', ' ').slice(0, 19),
  ]);
  const header = ['ID', 'TYPE', 'STATUS', 'PROGRESS', 'PROCESSED', 'CREATED (UTC)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

export function registerJobCommands(program: Command): void {
  const jobs = program
    .command('jobs')
    .description('List, watch, pause, resume and cancel background jobs (through the HTTP API).')
    .addHelpText('after', `
Examples:
  export BULKHEAD_TOKEN=bh_…
  bulkhead jobs list --status running
  bulkhead jobs watch 12
  bulkhead jobs pause 12 && bulkhead jobs resume 12`);

  withClientOptions(jobs.command('list'))
    .description('List jobs of your business, newest first.')
    .addOption(new Option('--status <status>', 'only jobs in this status').choices(JOB_STATUSES))
    .option('--type <type>', 'only jobs of this type, e.g. delete_leads_bulk, import_leads')
    .option('--limit <n>', 'how many (1-500)', parsePositiveInt(500), 20)
    .option('--json', 'print the jobs as a JSON array')
    .addHelpText('after', `
Examples:
  bulkhead jobs list
  bulkhead jobs list --status failed --type import_leads --limit 5
  bulkhead jobs list --json | jq '.[].id'`)
    .action(clientAction(async (flags: ListFlags) => {
      const client = clientFrom(flags);
      const page = await client.request<Page<Job>>('GET', '/api/v1/jobs', {
        query: { status: flags.status, type: flags.type, limit: flags.limit },
      });
      if (flags.json) console.log(JSON.stringify(page.items, null, 2));
      else console.log(page.items.length === 0 ? 'no jobs' : listTable(page.items));
      return EXIT.ok;
    }));

  withClientOptions(jobs.command('watch').argument('<id>', 'job id', parseId))
    .description('Follow a job live (server-sent events) with a progress bar, rate and ETA until it ends.')
    .option('--json', 'print the final job as JSON on stdout')
    .addHelpText('after', `
The bar goes to stderr (redrawn in place on a terminal, plain lines otherwise); a summary of the
ended job goes to stdout. Exits 0 when the job completes, 1 when it fails or is cancelled.

Examples:
  bulkhead jobs watch 12
  bulkhead jobs watch 12 && echo done
  bulkhead jobs watch 12 --json 2>/dev/null | jq .succeeded`)
    .action(clientAction(async (id: number, flags: WatchFlags) => {
      const job = await follow(clientFrom(flags), id);
      console.log(flags.json ? JSON.stringify(job, null, 2) : summaryLine(job));
      return exitCodeOf(job);
    }));

  for (const [action, t] of Object.entries(TRANSITIONS)) {
    withClientOptions(jobs.command(action).argument('<id>', 'job id', parseId))
      .description(t.help)
      .option('--json', 'print the job as JSON')
      .addHelpText('after', `
A job that cannot be ${t.done} now (e.g. it already ended) answers 409 invalid_transition: exit 6.

Example:
  bulkhead jobs ${action} 12`)
      .action(clientAction(async (id: number, flags: WatchFlags) => {
        const job = await clientFrom(flags).request<Job>('POST', `/api/v1/jobs/${id}/${action}`);
        if (flags.json) console.log(JSON.stringify(job, null, 2));
        else if (action === 'cancel' && job.status !== 'cancelled') {
          console.log(`job ${job.id}: cancel requested; it stops at its next batch boundary (bulkhead jobs watch ${job.id})`);
        } else if (action === 'pause' && job.status !== 'paused') {
          console.log(`job ${job.id}: pause requested; it pauses at its next batch boundary (bulkhead jobs watch ${job.id})`);
        } else console.log(`job ${job.id}: ${job.status}`);
        return EXIT.ok;
      }));
  }
}
