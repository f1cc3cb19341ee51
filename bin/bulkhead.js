#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader in this same process, so `npx bulkhead …` works
// straight from a clone, and signals (Ctrl-C) and exit codes are the CLI's own — a wrapper
// process would have to forward them.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
register();
await import(pathToFileURL(path.join(root, 'src', 'cli', 'main.ts')).href);
