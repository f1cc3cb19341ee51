/**
 * Where bench/dialer.ts writes in docs/BENCHMARKS.md: its own "## Dialer" section (a section the
 * run.ts generator keeps as it is), whose last part, "### Call flows", is rewritten on its own by
 * `npx tsx bench/dialer.ts flows`. Pure: document in, document out.
 */

const DIALER_HEADING = '\n## Dialer\n';
export const FLOWS_HEADING = '### Call flows';
/** Text after this line, up to the next section, is hand-written and survives a rerun of the part. */
export const FLOWS_HAND = '<!-- dialer call flows: hand-written analysis below -->';

/** Where the Dialer section (starting at `start`) ends, and where its call-flow part begins (-1: none). */
function dialerBounds(doc: string, start: number): { flows: number; end: number } {
  const next = doc.indexOf('\n## ', start + 1);
  const end = next >= 0 ? next : doc.length;
  const flows = doc.indexOf(`\n${FLOWS_HEADING}`, start);
  return { flows: flows >= 0 && flows < end ? flows : -1, end };
}

/**
 * The Dialer section replaced by `section` up to its call-flow part, which is kept (the whole
 * bench rewrites it next; a run without it leaves it). A document without the section gets it
 * before "## Notes", or at the end.
 */
export function replaceDialerSection(doc: string, section: string): string {
  const start = doc.indexOf(DIALER_HEADING);
  if (start >= 0) {
    const { flows, end } = dialerBounds(doc, start);
    const next = flows >= 0 ? flows : end;
    return doc.slice(0, start + 1) + section + (next < doc.length ? `\n${doc.slice(next + 1)}` : '');
  }
  const notes = doc.indexOf('\n## Notes\n');
  return notes >= 0 ? `${doc.slice(0, notes + 1)}${section}\n${doc.slice(notes + 1)}` : `${doc.trimEnd()}\n\n${section}`;
}

/** The call-flow part replaced up to the hand-written marker (kept with what follows it), or appended to the Dialer section with the marker. */
export function replaceFlowsPart(doc: string, part: string): string {
  const start = doc.indexOf(DIALER_HEADING);
  if (start < 0) throw new Error('docs/BENCHMARKS.md has no "## Dialer" section: run the whole bench once (npx tsx bench/dialer.ts)');
  const { flows, end } = dialerBounds(doc, start);
  if (flows < 0) return `${doc.slice(0, end).trimEnd()}\n\n${part}\n${FLOWS_HAND}\n${doc.slice(end)}`;
  const hand = doc.indexOf(`\n${FLOWS_HAND}`, flows);
  const keepFrom = hand >= 0 && hand < end ? hand + 1 : end;
  return `${doc.slice(0, flows + 1)}${part}\n${keepFrom === end ? `${FLOWS_HAND}\n` : ''}${doc.slice(keepFrom)}`;
}
