import { Option, type Command } from 'commander';
import { ROLE_NAMES, type ApiClient, type ApiToken, type CreatedApiToken, type Page } from '../api-client.js';
import { deleteCredentials } from '../credentials.js';
import { clientAction, parseId, tenantClient, withClientOptions, type ClientFlags } from './client.js';
import { EXIT } from './exit-codes.js';

interface JsonFlags extends ClientFlags {
  json?: boolean;
}

interface CreateFlags extends JsonFlags {
  role?: string;
}

/** A business has few tokens; the list follows every page (500 a page, the API's maximum). */
async function allTokens(client: ApiClient): Promise<ApiToken[]> {
  const items: ApiToken[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.request<Page<ApiToken>>('GET', '/api/v1/tokens', { query: { limit: 500, cursor } });
    items.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return items;
}

const minute = (iso: string | null): string => (iso === null ? 'never' : iso.replace('T', ' ').slice(0, 16));

function tokenTable(tokens: ApiToken[], inUse: number | null): string {
  const rows = tokens.map((t) => [
    t.id === inUse ? `${t.id}*` : String(t.id),
    t.name,
    t.role,
    t.user_email,
    minute(t.created_at),
    minute(t.last_used_at),
  ]);
  const header = ['ID', 'NAME', 'ROLE', 'USER', 'CREATED (UTC)', 'LAST USED (UTC)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const table = [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
  return inUse !== null && tokens.some((t) => t.id === inUse) ? `${table}\n* the token \`bulkhead login\` saved on this machine` : table;
}

export function registerTokenCommands(program: Command): void {
  const tokens = program
    .command('tokens')
    .description('List, create and revoke your business\'s API tokens (admins and owners).')
    .addHelpText('after', `
Examples:
  bulkhead tokens list
  bulkhead tokens create "nightly import" --role agent
  bulkhead tokens revoke 7`);

  withClientOptions(tokens.command('list'))
    .description('Every API token of your business: id, name, role, user, created, last used (never the secrets).')
    .option('--json', 'print the tokens as a JSON array')
    .addHelpText('after', `
Admins and owners only (an agent gets 403: exit 5). Last used is kept to the minute.

Examples:
  bulkhead tokens list
  bulkhead tokens list --json | jq '.[] | select(.last_used_at == null) | .id'`)
    .action(clientAction(async (flags: JsonFlags) => {
      const { client, stored } = tenantClient(flags);
      const items = await allTokens(client);
      if (flags.json) console.log(JSON.stringify(items, null, 2));
      else console.log(items.length === 0 ? 'no tokens' : tokenTable(items, stored?.token_id ?? null));
      return EXIT.ok;
    }));

  withClientOptions(tokens.command('create').argument('<name>', 'what the token is for, e.g. "nightly import" (1-100 characters)'))
    .description('Create a token for yourself and print its secret, once.')
    .addOption(new Option('--role <role>', 'the token\'s role (default: yours; never above it)').choices(ROLE_NAMES))
    .option('--json', 'print {id, name, role, token} as JSON')
    .addHelpText('after', `
Only the token's hash is stored: the secret cannot be shown again. Give a script or a
colleague's tool the lowest role it needs (agent: leads and calls, no bulk jobs).

Examples:
  bulkhead tokens create "nightly import" --role admin
  export BULKHEAD_TOKEN=$(bulkhead tokens create ci --role agent --json | jq -r .token)`)
    .action(clientAction(async (name: string, flags: CreateFlags) => {
      const created = await tenantClient(flags).client.request<CreatedApiToken>('POST', '/api/v1/tokens', { body: { name, role: flags.role } });
      if (flags.json) console.log(JSON.stringify(created, null, 2));
      else {
        console.log([
          `token ${created.id} created: "${created.name}" (${created.role})`,
          `  secret  ${created.token}`,
        ].join('\n'));
        process.stderr.write(`Copy the secret now: it is not stored and will not be shown again. Revoke it with: bulkhead tokens revoke ${created.id}\n`);
      }
      return EXIT.ok;
    }));

  withClientOptions(tokens.command('revoke').argument('<id>', 'token id (bulkhead tokens list)', parseId))
    .description('Revoke a token: its next request gets 401.')
    .addHelpText('after', `
Admins revoke agent and admin tokens, owners any. Revoking the token \`bulkhead login\` saved also
removes it from this machine.

Example:
  bulkhead tokens revoke 7`)
    .action(clientAction(async (id: number, flags: ClientFlags) => {
      const { client, stored } = tenantClient(flags);
      await client.request<null>('DELETE', `/api/v1/tokens/${id}`);
      if (stored?.token_id === id) {
        await deleteCredentials();
        console.log(`token ${id} revoked; it was this machine's login, now removed (bulkhead login to sign in again)`);
      } else console.log(`token ${id} revoked`);
      return EXIT.ok;
    }));
}
