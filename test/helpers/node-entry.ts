/**
 * The node arguments that run one of this project's TypeScript entry points in a new process.
 * From the source tree: the .ts through tsx's loader. From the JavaScript tree that test/run.ts
 * compiles once per run: the .js beside it, with no loader — tsx's hooks cost each process about
 * a second of CPU to start, and a run of the suite starts hundreds. This module is compiled with
 * that tree, so its own file name says which tree it runs from.
 */
const COMPILED = import.meta.url.endsWith('.js');

export function nodeEntry(tsFile: string): string[] {
  if (!tsFile.endsWith('.ts')) throw new Error(`not a TypeScript entry point: ${tsFile}`);
  return COMPILED ? [`${tsFile.slice(0, -3)}.js`] : ['--import', 'tsx', tsFile];
}
