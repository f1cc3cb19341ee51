import type { Command } from 'commander';
import { EXIT } from './exit-codes.js';

/**
 * `bulkhead secrets rotate`: a server command (it opens the database, like `migrate`), loaded
 * only when it runs so the client commands start without pg and the domains.
 */
export function registerSecretsCommands(program: Command): void {
  const secrets = program
    .command('secrets')
    .description('Stored provider secrets (Twilio auth tokens, WhatsApp access tokens and app secrets), encrypted under SECRETS_KEY.');

  secrets
    .command('rotate')
    .description('Re-encrypt every stored secret under SECRETS_KEY, opening those under SECRETS_KEY_PREVIOUS (or the key generated into DATA_DIR).')
    .addHelpText('after', `
Rotating the key (README "Setting up a business"):
  1. Run every api and worker with SECRETS_KEY=<new> and SECRETS_KEY_PREVIOUS=<old>.
  2. SECRETS_KEY=<new> SECRETS_KEY_PREVIOUS=<old> bulkhead secrets rotate
  3. Drop SECRETS_KEY_PREVIOUS.
A secret neither key opens is left as it is and listed; the command then exits 1.
Running it twice changes nothing. A new key: openssl rand -base64 32

Examples:
  DATABASE_URL=postgres://bulkhead@db/bulkhead SECRETS_KEY=… SECRETS_KEY_PREVIOUS=… bulkhead secrets rotate
  SECRETS_KEY=\`openssl rand -base64 32\` bulkhead secrets rotate     (from the generated key of npm start)`)
    .action(async () => {
      const { load, openDatabaseOrExit } = await import('./server.js');
      const { createLogger } = await import('../../lib/logger.js');
      const { loadSecretBox } = await import('../../channels/secrets-key.js');
      const { rotateSecrets } = await import('../../channels/rotate.js');
      const config = load();
      const log = createLogger(config.logLevel);
      const box = await loadSecretBox(config, log);
      const db = await openDatabaseOrExit(config, log);
      try {
        const report = await rotateSecrets(db.pool, box);
        console.log(`secrets rotated: ${report.rotated} re-encrypted under key ${report.keyId}, ${report.current} already under it`);
        for (const u of report.unreadable) {
          console.error(`  not readable with SECRETS_KEY or SECRETS_KEY_PREVIOUS: ${u.table}.${u.column} of business ${u.businessId} (sealed under key ${u.keyId ?? 'unknown'})`);
        }
        if (report.unreadable.length > 0) process.exitCode = EXIT.failure;
      } finally {
        await db.close();
      }
    });
}
