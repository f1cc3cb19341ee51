/**
 * The answers of the public HTTP API (API.md) as zod schemas and the types inferred from them.
 * The routes declare these as their responses (so /docs shows them and replies are checked
 * against them); the CLI and the dashboard import the types. Nothing here imports server code.
 */
export * from './common.js';
export * from './jobs.js';
export * from './leads.js';
export * from './receipts.js';
export * from './outbound.js';
export * from './broadcasts.js';
export * from './admin.js';
export * from './ops.js';
export * from './trash.js';
export * from './people.js';
export * from './channels.js';
export * from './business.js';
export * from './transcripts.js';
