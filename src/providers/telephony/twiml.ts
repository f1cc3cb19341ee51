import { XMLParser } from 'fast-xml-parser';

/**
 * TwiML as the telephony simulator reads it: a document's verbs in order, each with its
 * attributes, its text and its nested nouns/verbs (<Gather> holds <Say>, <Dial> holds <Number>).
 * Values are kept as text (a phone number must not become a number).
 */
export interface TwimlVerb {
  verb: string;
  attrs: Record<string, string>;
  text: string;
  children: TwimlVerb[];
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', preserveOrder: true, parseTagValue: false, parseAttributeValue: false, trimValues: true });

type Node = Record<string, unknown> & { ':@'?: Record<string, unknown> };

function walk(nodes: Node[]): TwimlVerb[] {
  const out: TwimlVerb[] = [];
  for (const n of nodes) {
    const verb = Object.keys(n).find((k) => k !== ':@' && k !== '#text');
    if (verb === undefined) continue;
    const kids = Array.isArray(n[verb]) ? (n[verb] as Node[]) : [];
    const text = kids.filter((k) => '#text' in k).map((k) => String(k['#text'])).join('');
    const attrs = Object.fromEntries(Object.entries(n[':@'] ?? {}).map(([k, v]) => [k, String(v)]));
    out.push({ verb, attrs, text, children: walk(kids) });
  }
  return out;
}

/** The verbs of a <Response>; null when the text is not a TwiML document (Twilio: "application error"). */
export function parseTwiml(xml: string): TwimlVerb[] | null {
  let doc: Node[];
  try {
    doc = parser.parse(xml) as Node[];
  } catch {
    return null;
  }
  const response = Array.isArray(doc) ? doc.find((n) => 'Response' in n) : undefined;
  if (!response) return null;
  return walk(Array.isArray(response.Response) ? (response.Response as Node[]) : []);
}
