/**
 * Documentation references stay true. Pure: reads files, no database.
 *
 * - A comment or string in src/, test/, bench/ (.ts, and the .sql migrations), README.md or
 *   docs/*.md that names a document under docs/ names one that exists; when it cites a section
 *   (the document's name followed by a quoted section title, optionally after a comma), that
 *   title is a heading of the document.
 * - A relative markdown link or image in README.md or docs/*.md points to an existing file
 *   (http(s):, mailto: and other schemes and pure #anchors are not checked; #fragment and ?query
 *   are stripped).
 *
 * The self-tests at the end run the same checks on made-up text, so a broken reference can be
 * seen to fail. Made-up document names are built at run time (`${D}…`): written out, this file
 * would itself be reported.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const D = 'docs/';

/** What the checks may ask of the repository; paths are relative to its root, with `/`. */
interface Repo {
  exists(rel: string): boolean;
  read(rel: string): string | null;
}

interface DocReference {
  doc: string;
  section: string | null;
  index: number;
}

// The name must not continue a longer path (`shared/docs/…`, `../docs/…`). A section is a quoted
// title after whitespace (or a comma and whitespace), on one line or continued on the next line
// of a comment (`*`, `//`, `--` leaders are dropped).
const DOC_REFERENCE = /(?<![\w./-])docs\/([\w.-]+?\.md)\b(?:,?[ \t]+\\?["“]((?:[^"”\\\n]|\n[ \t]*(?:\*(?!\/)|\/\/|--)?[ \t]*){1,120}?)\\?["”])?/g;

/** Every `docs/<NAME>.md` named in `text`, with the section cited after it, if any. Pure. */
function docReferences(text: string): DocReference[] {
  const out: DocReference[] = [];
  for (const m of text.matchAll(DOC_REFERENCE)) {
    const section = m[2] === undefined ? null : normalizeTitle(m[2].replace(/\n[ \t]*(?:\*|\/\/|--)?[ \t]*/g, ' '));
    out.push({ doc: `${D}${m[1] ?? ''}`, section, index: m.index });
  }
  return out;
}

function normalizeTitle(s: string): string {
  return s.replace(/^#+\s*/, '').replace(/\s+/g, ' ').trim();
}

/** Blanks fenced code blocks, keeping line breaks (line numbers stay right). */
function withoutFences(md: string): string {
  let fence: string | null = null;
  return md.split('\n').map((line) => {
    const m = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence === null && m?.[1]) {
      fence = m[1];
      return '';
    }
    if (fence !== null) {
      if (m?.[1] && m[1][0] === fence[0] && m[1].length >= fence.length) fence = null;
      return '';
    }
    return line;
  }).join('\n');
}

/** The headings (`#` … `######`) of a markdown document, outside code blocks. Pure. */
function headingsOf(md: string): Set<string> {
  const out = new Set<string>();
  for (const line of withoutFences(md).split('\n')) {
    const m = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (m?.[1]) out.add(normalizeTitle(m[1]));
  }
  return out;
}

/** Link and image targets of a markdown document (inline and reference definitions), outside code. Pure. */
function markdownLinks(md: string): { target: string; index: number }[] {
  const text = withoutFences(md).replace(/(`+)[^`]*?\1/g, (span) => ' '.repeat(span.length));
  const out: { target: string; index: number }[] = [];
  for (const m of text.matchAll(/\]\(\s*(<[^>\n]*>|[^\s()]+)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g)) {
    out.push({ target: (m[1] ?? '').replace(/^<|>$/g, ''), index: m.index });
  }
  for (const m of text.matchAll(/^ {0,3}\[[^\]\n]+\]:[ \t]*(<[^>\n]*>|\S+)/gm)) {
    out.push({ target: (m[1] ?? '').replace(/^<|>$/g, ''), index: m.index });
  }
  return out.sort((a, b) => a.index - b.index);
}

/** The repository path a link target names, or null when it is not a local file (URL, anchor). */
function localTarget(fromFile: string, target: string): string | null {
  if (target === '' || target.startsWith('#') || target.startsWith('//') || /^[a-z][a-z0-9+.-]*:/i.test(target)) return null;
  let p = target.replace(/[#?].*$/, '');
  if (p === '') return null;
  try {
    p = decodeURIComponent(p);
  } catch {
    // left as written
  }
  return p.startsWith('/') ? path.posix.normalize(p.slice(1)) : path.posix.join(path.posix.dirname(fromFile), p);
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i += 1) if (text.charCodeAt(i) === 10) line += 1;
  return line;
}

/** Problems with the documents and sections `text` (from `file`) names. */
function checkDocReferences(file: string, text: string, repo: Repo): string[] {
  const problems: string[] = [];
  for (const ref of docReferences(text)) {
    const at = `${file}:${lineOf(text, ref.index)}`;
    const doc = repo.read(ref.doc);
    if (doc === null) {
      problems.push(`${at}: names ${ref.doc}, which does not exist`);
    } else if (ref.section !== null && !headingsOf(doc).has(ref.section)) {
      problems.push(`${at}: cites section "${ref.section}" of ${ref.doc}, which has no such heading`);
    }
  }
  return problems;
}

/** Problems with the relative links and images of the markdown document `file`. */
function checkMarkdownLinks(file: string, text: string, repo: Repo): string[] {
  const problems: string[] = [];
  for (const link of markdownLinks(text)) {
    const target = localTarget(file, link.target);
    if (target !== null && !repo.exists(target)) {
      problems.push(`${file}:${lineOf(text, link.index)}: links to ${link.target}, which does not exist (${target})`);
    }
  }
  return problems;
}

function diskRepo(): Repo {
  const cache = new Map<string, string | null>();
  return {
    exists: (rel) => fs.existsSync(path.join(ROOT, rel)),
    read(rel) {
      if (!cache.has(rel)) {
        const file = path.join(ROOT, rel);
        cache.set(rel, fs.existsSync(file) && fs.statSync(file).isFile() ? fs.readFileSync(file, 'utf8') : null);
      }
      return cache.get(rel) ?? null;
    },
  };
}

function filesUnder(dir: string, exts: readonly string[]): string[] {
  const abs = path.join(ROOT, dir);
  if (!fs.existsSync(abs)) return [];
  return (fs.readdirSync(abs, { recursive: true }) as string[])
    .map((entry) => path.posix.join(dir, entry.split(path.sep).join('/')))
    .filter((rel) => !rel.split('/').includes('node_modules') && exts.some((ext) => rel.endsWith(ext)))
    .filter((rel) => fs.statSync(path.join(ROOT, rel)).isFile())
    .sort();
}

function markdownFiles(): string[] {
  return ['README.md', ...filesUnder('docs', ['.md']).filter((rel) => path.posix.dirname(rel) === 'docs')];
}

describe('documentation references', () => {
  const repo = diskRepo();

  test('every docs/*.md named in code, tests, benchmarks and docs exists, with the sections cited', () => {
    const files = [...filesUnder('src', ['.ts', '.sql']), ...filesUnder('test', ['.ts']), ...filesUnder('bench', ['.ts']), ...markdownFiles()];
    assert.ok(files.length > 100, `expected the source tree, found ${files.length} files`);
    const problems = files.flatMap((file) => checkDocReferences(file, repo.read(file) ?? '', repo));
    assert.deepEqual(problems, []);
  });

  test('every relative link and image in README.md and docs/*.md points to a file', () => {
    const problems = markdownFiles().flatMap((file) => checkMarkdownLinks(file, repo.read(file) ?? '', repo));
    assert.deepEqual(problems, []);
  });
});

describe('the matchers, on made-up text', () => {
  const guide = [
    '# Guide',
    '## Opt-outs',
    '```sh',
    '# not a heading: inside a code block',
    '[not a link](inside-code.md)',
    '```',
    '### Pacing ###',
  ].join('\n');
  const files = new Map<string, string>([[`${D}GUIDE.md`, guide], [`${D}img/a.png`, ''], ['README.md', '']]);
  const memory: Repo = { exists: (rel) => files.has(rel), read: (rel) => files.get(rel) ?? null };

  test('headings are read outside code blocks, closing hashes dropped', () => {
    assert.deepEqual([...headingsOf(guide)], ['Guide', 'Opt-outs', 'Pacing']);
  });

  test('a missing document, a missing section and a wrapped citation are reported', () => {
    const code = [
      `// see ${D}GUIDE.md, "Opt-outs" and ${D}GUIDE.md "Pacing"`,
      `/* ${D}GUIDE.md "Opt-ins" */`,
      `const s = 'design in ${D}GONE.md';`,
      ` * (${D}GUIDE.md, "Opt-`,
      ` *  outs") wraps; ${D}GUIDE.md "## Pacing" has hashes; shared/${D}API.md is another repo's.`,
      `const list = [${D}GUIDE.md];`,
    ].join('\n');
    assert.deepEqual(docReferences(code).map((r) => [r.doc, r.section]), [
      [`${D}GUIDE.md`, 'Opt-outs'],
      [`${D}GUIDE.md`, 'Pacing'],
      [`${D}GUIDE.md`, 'Opt-ins'],
      [`${D}GONE.md`, null],
      [`${D}GUIDE.md`, 'Opt- outs'],
      [`${D}GUIDE.md`, 'Pacing'],
      [`${D}GUIDE.md`, null],
    ]);
    assert.deepEqual(checkDocReferences('src/x.ts', code, memory), [
      `src/x.ts:2: cites section "Opt-ins" of ${D}GUIDE.md, which has no such heading`,
      `src/x.ts:3: names ${D}GONE.md, which does not exist`,
      `src/x.ts:4: cites section "Opt- outs" of ${D}GUIDE.md, which has no such heading`,
    ]);
    assert.deepEqual(checkDocReferences('src/ok.ts', `// ${D}GUIDE.md, "Opt-outs"`, memory), []);
  });

  test('relative links and images must exist; URLs, anchors, code and fragments are not files', () => {
    const md = [
      '![shot](img/a.png) [guide](GUIDE.md#opt-outs "title") [top](../README.md?x=1)',
      '[gone](img/b.png) [web](https://example.com/x.md) [mail](mailto:a@b.c) [here](#pacing)',
      '`[code](nowhere.md)` [abs](/docs/missing.md)',
      '[ref]: <./GONE.md>',
    ].join('\n');
    assert.deepEqual(checkMarkdownLinks(`${D}GUIDE.md`, md, memory), [
      `${D}GUIDE.md:2: links to img/b.png, which does not exist (${D}img/b.png)`,
      `${D}GUIDE.md:3: links to /docs/missing.md, which does not exist (${D}missing.md)`,
      `${D}GUIDE.md:4: links to ./GONE.md, which does not exist (${D}GONE.md)`,
    ]);
    assert.deepEqual(checkMarkdownLinks(`${D}GUIDE.md`, guide, memory), []);
    assert.equal(localTarget('README.md', `${D}img/a.png#x`), `${D}img/a.png`);
  });
});
