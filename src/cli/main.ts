#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerAdminCommands } from './commands/admin.js';
import { EXIT } from './commands/exit-codes.js';
import { registerImportCommand } from './commands/import.js';
import { registerJobCommands } from './commands/jobs.js';
import { registerLoginCommands } from './commands/login.js';
import { registerReceiptsCommands } from './commands/receipts.js';
import { registerSecretsCommands } from './commands/secrets.js';
import { registerTokenCommands } from './commands/tokens.js';
import { registerTrashCommands } from './commands/trash.js';

export { EXIT } from './commands/exit-codes.js';

/** Server commands load their module (Fastify, pg, every domain) only when they run. */
const server = () => import('./commands/server.js');

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('bulkhead')
  .version(version)
  .description('Durable, gated bulk operations on PostgreSQL: API, worker, and job tools.')
  .showHelpAfterError('(add --help for usage and examples)')
  // Inherited by every command added below: a parse error throws here instead of exiting 1.
  .exitOverride()
  .addHelpText('after', `
Server commands run Bulkhead; client commands (admin, login, jobs, import, tokens, trash, receipts) talk
to a running one over HTTP: --url (BULKHEAD_URL, default http://127.0.0.1:3000) and --token
(BULKHEAD_TOKEN, else the token \`bulkhead login\` stored, with its URL; admin commands take
ADMIN_TOKEN). \`bulkhead <command> --help\` shows each command's options and examples.

Exit codes: 0 ok · 1 job failed or cancelled · 2 usage · 3 bad configuration · 4 database
unavailable · 5 unauthorized (401/403) · 6 other API error · 7 refused by the gate (429) ·
8 API unreachable · 130 interrupted.

Examples:
  bulkhead start
  bulkhead login --email dana@example.com      (or: export BULKHEAD_TOKEN=bh_…)
  bulkhead import leads.csv
  bulkhead jobs list --status running
  bulkhead jobs watch 12
  bulkhead trash restore 12
  bulkhead tokens create "nightly import" --role agent`);

program
  .command('start')
  .description('Everything in one process: API, worker and dashboard on the embedded PostgreSQL (unless DATABASE_URL is set), with demo data.')
  .addHelpText('after', `
Prints the URL, the admin token and a demo business token. Configuration is by environment
variables (README "Configuration"); a bad one exits 3, an unavailable database 4.

Examples:
  bulkhead start
  PORT=8080 ADMIN_TOKEN=my-admin-token-0123456789 bulkhead start`)
  .action(async () => (await server()).start());

program
  .command('api')
  .description('The HTTP API (any number of these may share one PostgreSQL).')
  .addHelpText('after', `
Example:
  DATABASE_URL=postgres://bulkhead@db/bulkhead ADMIN_TOKEN=… bulkhead api`)
  .action(async () => (await server()).api());

program
  .command('worker')
  .description('A job worker (any number of these may share one PostgreSQL). SIGTERM finishes the current batch and hands jobs back.')
  .addHelpText('after', `
Example:
  DATABASE_URL=postgres://bulkhead@db/bulkhead WORKER_QUEUES=default,maintenance bulkhead worker`)
  .action(async () => (await server()).worker());

program
  .command('migrate')
  .description('Apply pending database migrations and exit.')
  .addHelpText('after', `
Example:
  DATABASE_URL=postgres://bulkhead@db/bulkhead bulkhead migrate`)
  .action(async () => (await server()).migrate());

registerAdminCommands(program);
registerLoginCommands(program);
registerJobCommands(program);
registerImportCommand(program);
registerTokenCommands(program);
registerTrashCommands(program);
registerReceiptsCommands(program);
registerSecretsCommands(program);

program.parseAsync(process.argv).catch((err) => {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; every other parse error is a usage error.
    process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
  }
  console.error((err as Error).message);
  process.exit(EXIT.failure);
});
