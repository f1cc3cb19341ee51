import type { Command } from 'commander';
import { clientAction, clientFrom, parsePositiveInt, withClientOptions, type ClientFlags } from './client.js';
import { EXIT } from './exit-codes.js';

interface CreateFlags extends ClientFlags {
  maxCalls?: number;
  timezone?: string;
  country?: string;
  locale?: string;
  email?: string;
  json?: boolean;
}

interface Created {
  business: { id: number; name: string; max_outbound_calls: number; timezone: string; default_country: string; locale: string };
  user: { id: number; email: string; role: string };
  token: string;
  invite_token: string;
}

export function registerAdminCommands(program: Command): void {
  const admin = program
    .command('admin')
    .description('Administer businesses (tenants) through the admin API, with ADMIN_TOKEN.');

  withClientOptions(admin.command('create-business').argument('<name>', 'the business\'s name'), 'admin')
    .description('Create a business with its first user, and print the business id and that user\'s bearer token.')
    .option('--max-calls <n>', 'maximum concurrent outbound calls of the business (default 3)', parsePositiveInt(1000))
    .option('--timezone <tz>', 'IANA time zone for calling hours (default DEFAULT_TIMEZONE of the server: Asia/Jerusalem)')
    .option('--country <cc>', 'ISO country whose local phone numbers leads are written in (default the server\'s DEFAULT_COUNTRY: IL)')
    .option('--locale <he|en>', 'language of server messages and the dashboard (default the server\'s DEFAULT_LOCALE: he)')
    .option('--email <email>', 'the first user\'s email (default owner@business-<id>.local)')
    .option('--json', 'print {business, user, token, invite_token} as JSON')
    .addHelpText('after', `
The token and the invite are shown once (only their hashes are stored). Use the token as
BULKHEAD_TOKEN for the other commands; the invite link lets the owner set a password and sign in.

Examples:
  ADMIN_TOKEN=adm_… bulkhead admin create-business "שחר נכסים" --max-calls 5
  ADMIN_TOKEN=adm_… bulkhead admin create-business "Acme Realty" --country GB --timezone Europe/London --locale en
  export BULKHEAD_TOKEN=$(bulkhead admin create-business Acme --json | jq -r .token)`)
    .action(clientAction(async (name: string, flags: CreateFlags) => {
      const created = await clientFrom(flags, 'admin').request<Created>('POST', '/api/v1/admin/businesses', {
        body: { name, max_outbound_calls: flags.maxCalls, timezone: flags.timezone, default_country: flags.country, locale: flags.locale, email: flags.email },
      });
      if (flags.json) console.log(JSON.stringify(created, null, 2));
      else {
        const b = created.business;
        console.log([
          `business ${b.id} created: ${b.name} (max ${b.max_outbound_calls} concurrent calls, ${b.default_country}, ${b.timezone}, ${b.locale})`,
          `  business id  ${b.id}`,
          `  user         ${created.user.id} ${created.user.email} (${created.user.role})`,
          `  invite       ${flags.url.replace(/\/$/, '')}/#invite=${created.invite_token}   (the owner sets a password there within 7 days, then signs in)`,
          `  token        ${created.token}`,
          `  try          BULKHEAD_TOKEN=${created.token} bulkhead jobs list`,
        ].join('\n'));
      }
      return EXIT.ok;
    }));
}
