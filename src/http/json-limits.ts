import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ValidationError } from '../lib/errors.js';
import { english, msg, type Message } from '../lib/messages.js';

/**
 * Shape limits a JSON body must meet before it is parsed. No Bulkhead body nests deeper than five
 * levels, has an object of more than a few dozen keys, or an array longer than 100 000 (lead_ids,
 * broadcast recipients, import rows); anything beyond is refused before JSON.parse, zod and the
 * text guard spend seconds of the event loop on it (issue 12: a body nested 8 million levels cost
 * 6.4 s, an object of a million keys 3.3 s, four million nulls 1.6 s — all of it only to say 400).
 */
export interface JsonShapeLimits {
  maxDepth: number;
  maxKeys: number;
  maxItems: number;
}

export const JSON_SHAPE_LIMITS: JsonShapeLimits = { maxDepth: 32, maxKeys: 1_000, maxItems: 100_000 };

const OPEN_OBJECT = 0x7b; // {
const CLOSE_OBJECT = 0x7d; // }
const OPEN_ARRAY = 0x5b; // [
const CLOSE_ARRAY = 0x5d; // ]
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LOWER_U = 0x75;

/** The value of an ASCII hex digit (anything else counts as 0xF: never a false "clean"). */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return 15;
}

/**
 * Checks a JSON text's shape as its bytes arrive, without building anything, so a body that
 * breaks a limit is refused at its first offending byte — after 33 bytes for a body nested 8
 * million levels, not after reading and parsing 16 MiB of it. It counts commas per open
 * container and does not validate JSON (JSON.parse does, on a body already known to be of a sane
 * shape). Bytes, not characters: every byte of a multi-byte UTF-8 character is ≥ 0x80, so the
 * structural characters can be read without decoding.
 *
 * Alternatives measured: a JSON.parse reviver sees every value only after the whole tree is built
 * (the cost to avoid); a streaming parser (e.g. @streamparser/json) enforces the same limits
 * while parsing but is ~10× slower than this scan plus V8's JSON.parse on valid bodies.
 */
export class JsonShapeScanner {
  readonly #counts: Uint32Array;
  readonly #isObject: Uint8Array;
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** Hex digits still expected of a \\uXXXX escape (0: none), and its value so far. */
  #hexLeft = 0;
  #hexValue = 0;
  /**
   * True once a string held a `\\u0000` or a `\\uD800`-`\\uDFFF` escape: the only ways JSON text
   * can carry what PostgreSQL cannot store (raw control characters are not JSON, and decoding
   * UTF-8 never yields a lone surrogate). Bodies without one skip the text guard's walk.
   */
  suspectText = false;

  constructor(private readonly limits: JsonShapeLimits = JSON_SHAPE_LIMITS) {
    this.#counts = new Uint32Array(limits.maxDepth + 1);
    this.#isObject = new Uint8Array(limits.maxDepth + 1);
  }

  /** The first limit the bytes so far break, or null. */
  feed(bytes: Uint8Array): Message | null {
    const { maxDepth, maxKeys, maxItems } = this.limits;
    for (let i = 0; i < bytes.length; i += 1) {
      const c = bytes[i] as number;
      if (this.#inString) {
        if (this.#hexLeft > 0) {
          this.#hexValue = this.#hexValue * 16 + hexDigit(c);
          this.#hexLeft -= 1;
          if (this.#hexLeft === 0 && (this.#hexValue === 0 || (this.#hexValue >= 0xd800 && this.#hexValue <= 0xdfff))) this.suspectText = true;
        } else if (this.#escaped) {
          this.#escaped = false;
          if (c === LOWER_U) {
            this.#hexLeft = 4;
            this.#hexValue = 0;
          }
        } else if (c === BACKSLASH) this.#escaped = true;
        else if (c === QUOTE) this.#inString = false;
      } else if (c === QUOTE) {
        this.#inString = true;
      } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        this.#depth += 1;
        if (this.#depth > maxDepth) return msg('issue.json_too_deep', { max: maxDepth });
        this.#counts[this.#depth] = 1;
        this.#isObject[this.#depth] = c === OPEN_OBJECT ? 1 : 0;
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        if (this.#depth > 0) this.#depth -= 1;
      } else if (c === COMMA && this.#depth > 0) {
        const count = (this.#counts[this.#depth] ?? 0) + 1;
        this.#counts[this.#depth] = count;
        if (this.#isObject[this.#depth] === 1 ? count > maxKeys : count > maxItems) {
          return this.#isObject[this.#depth] === 1 ? msg('issue.json_too_many_keys', { max: maxKeys }) : msg('issue.json_too_many_items', { max: maxItems });
        }
      }
    }
    return null;
  }
}

/** The first limit `text` breaks, in English, or null (the scanner over a whole text). */
export function jsonShapeProblem(text: string | Uint8Array, limits: JsonShapeLimits = JSON_SHAPE_LIMITS): string | null {
  const problem = new JsonShapeScanner(limits).feed(typeof text === 'string' ? Buffer.from(text) : text);
  return problem && english(problem);
}

function shapeError(problem: Message): ValidationError {
  return new ValidationError(msg('request.json_refused', { problem }), [{ path: 'body', message: problem }]);
}

/**
 * The request's body, checked chunk by chunk on its way to Fastify's body reader; it errors at the
 * first broken limit. A Readable that pulls from the request only once the reader reads (a
 * Transform piped at once would scan the first chunk, and emit its error, before the reader
 * listens). It never destroys the request: the 400 still has to go out on its socket.
 */
class ShapeCheckedStream extends Readable {
  readonly #scanner: JsonShapeScanner;
  readonly #source: NodeJS.ReadableStream;
  #failed = false;
  /** Read by Fastify's body reader for its Content-Length and body-limit checks. */
  receivedEncodedLength = 0;

  constructor(source: NodeJS.ReadableStream, limits: JsonShapeLimits, onRefused: () => void) {
    super();
    this.#scanner = new JsonShapeScanner(limits);
    this.#source = source;
    source.on('data', (chunk: Buffer) => {
      if (this.#failed) return;
      this.receivedEncodedLength += chunk.length;
      const problem = this.#scanner.feed(chunk);
      if (problem) {
        this.#failed = true;
        onRefused();
        this.destroy(shapeError(problem));
      } else if (!this.push(chunk)) {
        source.pause();
      }
    });
    source.pause();
    source.once('end', () => {
      if (!this.#failed) this.push(null);
    });
    source.once('error', (err: Error) => this.destroy(err));
  }

  override _read(): void {
    this.#source.resume();
  }

  get suspectText(): boolean {
    return this.#scanner.suspectText;
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set for a JSON body: what its scan saw (read by the text guard). */
    jsonBody: { readonly suspectText: boolean } | null;
  }
}

/** False when the body is JSON whose scan saw no escape that could be unstorable text. */
export function bodyMayHoldUnstorableText(request: FastifyRequest): boolean {
  return request.jsonBody?.suspectText ?? true;
}

/**
 * JSON bodies pass the shape scanner on their way in (a preParsing hook), before Fastify's own
 * JSON parser (which refuses `__proto__` and `constructor` keys) sees them.
 */
export function registerJsonShapeLimits(app: FastifyInstance, limits: JsonShapeLimits = JSON_SHAPE_LIMITS): void {
  app.decorateRequest('jsonBody', null);
  app.addHook('preParsing', async (request: FastifyRequest, reply, payload) => {
    const type = request.headers['content-type'];
    if (typeof type !== 'string' || !/^\s*application\/json\s*(;|$)/i.test(type)) return payload;
    // A refused body is not read further: the connection closes after the 400 instead of
    // draining the rest of it.
    const checked = new ShapeCheckedStream(payload, limits, () => reply.header('connection', 'close'));
    request.jsonBody = checked;
    return checked;
  });
}
