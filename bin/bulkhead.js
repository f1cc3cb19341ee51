#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx bulkhead …` works straight from a clone.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const tsx = import.meta.resolve('tsx');
const main = path.join(root, 'src', 'cli', 'main.ts');
const result = spawnSync(process.execPath, ['--import', tsx, main, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
