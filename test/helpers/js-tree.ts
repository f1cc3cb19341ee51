import fs from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

/** Copied and compiled; every other top-level entry of the project is linked. */
const TREES = ['src', 'test', 'bench'];
const NOT_LINKED = new Set([...TREES, '.git', '.build', 'node_modules']);

/**
 * The suite's JavaScript tree, for test/run.ts: src/, test/ and bench/ copied to `dir` with every
 * .ts file compiled to a .js beside it, so the test files and the processes they start run with
 * no loader (test/helpers/node-entry.ts). tsx compiles as well, but through module hooks that cost
 * each process about a second of CPU to start, and a run starts hundreds of processes.
 *
 * esbuild strips the types one file at a time (the project is written for it: isolatedModules,
 * verbatimModuleSyntax); `tsc --noEmit` checks them before the suite runs. `dir` is inside the
 * project, so packages resolve from its node_modules; package.json and the other top-level entries
 * (README.md, docs/, bin/) are links, so the tree reads and writes the project's own. Source maps
 * are inline: with --enable-source-maps a stack names the line in the .ts. The dashboard's client
 * is compiled too (tests import its pure modules); the server's esbuild bundle of it, built from
 * this tree, reads the same code from the .js files.
 */
export async function compileJsTree(root: string, dir: string): Promise<number> {
  await fs.mkdir(dir, { recursive: true });
  for (const entry of await fs.readdir(root)) {
    if (!NOT_LINKED.has(entry)) await fs.symlink(path.join(root, entry), path.join(dir, entry));
  }
  const sources: string[] = [];
  for (const tree of TREES) {
    await fs.cp(path.join(root, tree), path.join(dir, tree), { recursive: true, filter: (src) => path.basename(src) !== 'node_modules' });
    for (const entry of await fs.readdir(path.join(root, tree), { recursive: true })) {
      const rel = path.join(tree, entry);
      if (rel.endsWith('.ts') && !rel.endsWith('.d.ts') && !rel.split(path.sep).includes('node_modules')) {
        sources.push(path.join(root, rel));
      }
    }
  }
  await build({
    entryPoints: sources,
    outdir: dir,
    outbase: root,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    sourcesContent: false,
    logLevel: 'error',
  });
  return sources.length;
}

/** Where a project-relative .ts file's compiled twin is in `dir`. */
export function jsTwin(dir: string, rel: string): string {
  return path.join(dir, rel.replace(/\.ts$/, '.js'));
}
