/**
 * Every text a client can read in an answer — error messages, validation issues, import row
 * reasons — in English and Hebrew, in one catalogue. Code throws a message *key* with its
 * parameters (`msg('leads.lead_exists', { phone })`); the one mapping place (http/errors.ts)
 * renders it in the reader's language (Accept-Language, else the business's locale). Error
 * codes never depend on the language; the English texts are the ones clients and tests have
 * always seen, so English stays byte for byte what it was.
 *
 * Keys name what happened (`auth.bad_token`); `issue.*` keys are the short phrases that follow a
 * field's path in `details.issues` ("body.phone: is not a valid phone number"); `zod.*` render
 * zod's own issues, whose English is zod's text unchanged.
 */

export type Locale = 'he' | 'en';
export const LOCALES: readonly Locale[] = ['he', 'en'];

/** A message of any key, as stored (an import row's reason) or nested in another's parameters. */
export interface MessageRef {
  readonly key: string;
  readonly params?: unknown;
}

/** Renders a nested message in the same language as the one that holds it. */
type Render = (m: MessageRef | string) => string;
type Text<P> = string | ((p: P, t: Render) => string);
interface Entry<P> {
  readonly en: Text<P>;
  readonly he: Text<P>;
  /** Carries P for `ParamsOf`; never set. */
  readonly _params?: P;
}

/** Both languages take the same parameters: checked here, at each entry. */
function def<P = void>(en: Text<P>, he: Text<P>): Entry<P> {
  return { en, he };
}

type RoleName = 'owner' | 'admin' | 'agent';
type JobStatus = 'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';
type JobAction = 'pause' | 'resume' | 'cancel';
/** A channel secret, as the API names it and (definite) in Hebrew. */
const SECRET_HE = { 'auth token': 'אסימון האימות (auth token)', 'access token': 'אסימון הגישה (access token)', 'app secret': 'סוד האפליקציה (app secret)' } as const;
type SecretName = keyof typeof SECRET_HE;
/** Why text cannot be stored (lib/storable-text.ts): a NUL, or a lone UTF-16 surrogate. */
export type UnstorableChar = 'nul' | 'surrogate';
interface IssueRef {
  readonly path: string;
  readonly message: MessageRef | string;
}

const ROLE_HE: Record<RoleName, string> = { owner: 'בעלים', admin: 'מנהל', agent: 'נציג' };

/** What `not_found` can name, with its Hebrew form (definite) and gender (for "נמצא/נמצאה"). */
const RESOURCES = {
  Lead: { he: 'הליד', feminine: false },
  Job: { he: 'המשימה', feminine: true },
  Run: { he: 'סבב החיוג', feminine: false },
  Call: { he: 'השיחה', feminine: true },
  'A recording of this call': { he: 'הקלטה של השיחה הזו', feminine: true },
  Business: { he: 'העסק', feminine: false },
  Import: { he: 'הייבוא', feminine: false },
  Broadcast: { he: 'הודעת התפוצה', feminine: true },
  User: { he: 'המשתמש', feminine: false },
  Token: { he: 'האסימון', feminine: false },
  'Do-not-call number': { he: 'המספר ברשימת "אל תתקשרו"', feminine: false },
  Receipt: { he: 'הקבלה', feminine: true },
  'A PDF of this receipt': { he: 'קובץ PDF של הקבלה הזו', feminine: false },
} as const satisfies Record<string, { he: string; feminine: boolean }>;
export type Resource = keyof typeof RESOURCES;
export const RESOURCE_NAMES = Object.keys(RESOURCES) as Resource[];
export const isResource = (s: string): s is Resource => Object.hasOwn(RESOURCES, s);

const ROW_FIELD_HE = { phone: 'טלפון', name: 'שם', email: 'דוא״ל', tags: 'תגיות' } as const;
export type RowField = keyof typeof ROW_FIELD_HE;

const UNSTORABLE_EN: Record<UnstorableChar, string> = {
  nul: 'contains the NUL character (U+0000)',
  surrogate: 'contains a lone UTF-16 surrogate (U+D800–U+DFFF outside a pair)',
};
const UNSTORABLE_HE: Record<UnstorableChar, string> = {
  nul: 'מכיל את התו NUL (U+0000)',
  surrogate: 'מכיל תו UTF-16 חצוי (surrogate בודד בטווח U+D800–U+DFFF)',
};
const unstorableEn = (p: { char: UnstorableChar; inKey?: boolean }) => `${p.inKey ? 'has a key that ' : ''}${UNSTORABLE_EN[p.char]}`;
const unstorableHe = (p: { char: UnstorableChar; inKey?: boolean }) => `${p.inKey ? 'יש בו מפתח ש' : ''}${UNSTORABLE_HE[p.char]}`;

/** The first three issues, as API.md's summaries always gave them: "path: message; …". */
const summary = (issues: readonly IssueRef[], t: Render, n = 3, sep = ': ') =>
  issues.slice(0, n).map((i) => `${i.path}${sep}${t(i.message)}`).join('; ');

const ids = (list: readonly number[]) => list.join(', ');

const JOB_STATUS_HE: Record<JobStatus, string> = {
  queued: 'ממתינה בתור',
  running: 'רצה',
  paused: 'מושהית',
  completed: 'הושלמה',
  failed: 'נכשלה',
  cancelled: 'בוטלה',
};
const TRANSITION = {
  pause: { allowedEn: 'a queued or running job', done: 'paused', he: 'להשהות', allowedHe: 'משימה שממתינה בתור או רצה' },
  resume: {
    allowedEn: 'a paused job, or a running one with a pause requested,',
    done: 'resumed',
    he: 'לחדש',
    allowedHe: 'משימה מושהית, או משימה רצה שהתבקשה עבורה השהיה',
  },
  cancel: { allowedEn: 'a queued, running or paused job', done: 'cancelled', he: 'לבטל', allowedHe: 'משימה שממתינה בתור, רצה או מושהית' },
} as const satisfies Record<JobAction, unknown>;

// zod's own issues: the English is zod's message as it was made; the Hebrew is said from the
// issue's code and details. zod drops the input from a finished issue, so what was received is
// read from its English message ("…, received undefined").
interface ZodIssueParams {
  readonly text: string;
  readonly issue: Readonly<Record<string, unknown>>;
}
const zodEn = (p: ZodIssueParams) => p.text;
const TYPE_HE: Record<string, string> = {
  string: 'טקסט',
  number: 'מספר',
  int: 'מספר שלם',
  bigint: 'מספר שלם',
  boolean: 'ערך בוליאני (true או false)',
  object: 'אובייקט',
  array: 'מערך',
  null: 'null',
  undefined: 'ערך חסר',
  date: 'תאריך',
  nan: 'NaN',
  NaN: 'NaN',
};
const typeHe = (t: unknown) => (typeof t === 'string' ? (TYPE_HE[t] ?? t) : 'ערך');
const FORMAT_HE: Record<string, string> = {
  email: 'כתובת דוא״ל תקינה',
  url: 'כתובת URL תקינה',
  datetime: 'תאריך ושעה בתקן ISO 8601 עם הפרש מ-UTC (למשל 2026-03-01T09:00:00+02:00)',
  date: 'תאריך בתקן ISO (YYYY-MM-DD)',
  time: 'שעה בתקן ISO (HH:MM:SS)',
  duration: 'משך זמן בתקן ISO 8601',
  uuid: 'UUID תקין',
  e164: 'מספר טלפון בתקן E.164',
  ipv4: 'כתובת IPv4 תקינה',
  ipv6: 'כתובת IPv6 תקינה',
};
const num = (v: unknown) => String(v);
const quoted = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

function tooSmallHe(i: Readonly<Record<string, unknown>>): string {
  const min = num(i.minimum);
  const exact = i.exact === true;
  switch (i.origin) {
    case 'string':
      if (i.minimum === 1 && !exact) return 'לא יכול להיות ריק';
      return exact ? `צריך להכיל בדיוק ${min} תווים` : `קצר מדי: צריך להכיל לפחות ${min} תווים`;
    case 'array':
    case 'set':
      if (i.minimum === 1 && !exact) return 'צריך להכיל לפחות פריט אחד';
      return exact ? `צריך להכיל בדיוק ${min} פריטים` : `צריך להכיל לפחות ${min} פריטים`;
    default:
      return i.inclusive === false ? `קטן מדי: צריך להיות גדול מ-${min}` : `קטן מדי: צריך להיות ${min} או יותר`;
  }
}

function tooBigHe(i: Readonly<Record<string, unknown>>): string {
  const max = num(i.maximum);
  const exact = i.exact === true;
  switch (i.origin) {
    case 'string':
      return exact ? `צריך להכיל בדיוק ${max} תווים` : `ארוך מדי: יכול להכיל לכל היותר ${max} תווים`;
    case 'array':
    case 'set':
      return exact ? `צריך להכיל בדיוק ${max} פריטים` : `יותר מדי פריטים: לכל היותר ${max}`;
    default:
      return i.inclusive === false ? `גדול מדי: צריך להיות קטן מ-${max}` : `גדול מדי: צריך להיות ${max} לכל היותר`;
  }
}

function invalidFormatHe(i: Readonly<Record<string, unknown>>): string {
  switch (i.format) {
    case 'regex':
      return `צריך להתאים לתבנית ${String(i.pattern)}`;
    case 'starts_with':
      return `צריך להתחיל ב-"${String(i.prefix)}"`;
    case 'ends_with':
      return `צריך להסתיים ב-"${String(i.suffix)}"`;
    case 'includes':
      return `צריך לכלול את "${String(i.includes)}"`;
    default:
      return `צריך להיות ${FORMAT_HE[String(i.format)] ?? `בפורמט ${String(i.format)}`}`;
  }
}

const MESSAGES = {
  // ── Requests: shape, size, protocol ─────────────────────────────────────────────────────────
  'request.invalid': def<{ issues: readonly IssueRef[] }>(
    (p, t) => `The request is invalid: ${summary(p.issues, t)}.`,
    (p, t) => `הבקשה אינה תקינה: ${summary(p.issues, t)}.`,
  ),
  'request.body_too_large': def('The request body is too large.', 'גוף הבקשה גדול מדי.'),
  'request.unsupported_media_type': def(
    'Send the body as application/json (or text/csv where the endpoint says so).',
    'שלחו את גוף הבקשה כ-application/json (או כ-text/csv, בנקודות הקצה שמקבלות CSV).',
  ),
  'request.empty_json': def('The JSON body is empty.', 'גוף ה-JSON ריק.'),
  'request.invalid_json': def(
    'The body is not valid JSON (or it has a "__proto__" or "constructor" key, which is refused).',
    'גוף הבקשה אינו JSON תקין (או שיש בו מפתח "__proto__" או "constructor", שאינם מתקבלים).',
  ),
  'request.content_length_mismatch': def('Content-Length does not match the body.', 'הכותרת Content-Length אינה תואמת את גוף הבקשה.'),
  /** Fastify's or Node's own text for a client error we have no entry for (rare): kept as it is. */
  'request.refused': def<{ text: string }>((p) => p.text, (p) => `הבקשה נדחתה: ${p.text}`),
  'request.url_invalid': def<{ reason: MessageRef }>(
    (p, t) => `The URL is invalid: ${t(p.reason)}.`,
    (p, t) => `כתובת ה-URL אינה תקינה: ${t(p.reason)}.`,
  ),
  'request.timeout': def('The request was not received in time.', 'הבקשה לא התקבלה בזמן.'),
  'request.headers_too_large': def('The request headers are too large.', 'כותרות הבקשה גדולות מדי.'),
  'request.malformed_http': def('The HTTP request is malformed.', 'בקשת ה-HTTP פגומה.'),
  'request.route_not_found': def<{ method: string; path: string }>(
    (p) => `No route ${p.method} ${p.path}.`,
    (p) => `אין נתיב ${p.method} ${p.path}.`,
  ),
  'request.budget_exceeded': def<{ who: 'token' | 'address'; retry: number }>(
    (p) => `Too many requests, or too many refused ones, from this ${p.who === 'token' ? 'API token' : 'address'}; retry in ${p.retry} s.`,
    (p) => `יותר מדי בקשות, או יותר מדי בקשות שנדחו, ${p.who === 'token' ? 'מאסימון ה-API הזה' : 'מהכתובת הזו'}; נסו שוב בעוד ${p.retry} שניות.`,
  ),
  'request.cursor_invalid': def('The cursor is not one this API gave out.', 'הסמן (cursor) אינו סמן שה-API הזה נתן.'),
  'request.unstorable_text': def<{ path: string; char: UnstorableChar; inKey?: boolean }>(
    (p) => `The request is invalid: ${p.path} ${unstorableEn(p)}, which cannot be stored.`,
    (p) => `הבקשה אינה תקינה: ${p.path} ${unstorableHe(p)}, ואת זה אי אפשר לשמור.`,
  ),
  'request.json_refused': def<{ problem: MessageRef }>(
    (p, t) => `The JSON body is refused: it ${t(p.problem)}.`,
    (p, t) => `גוף ה-JSON נדחה: ${t(p.problem)}.`,
  ),
  'request.database_unavailable': def(
    'The database is briefly unavailable; retry in a second.',
    'מסד הנתונים אינו זמין לרגע; נסו שוב בעוד שנייה.',
  ),
  'request.internal_error': def<{ errorId: string }>(
    (p) => `Something went wrong on our side (error id ${p.errorId}); it has been logged.`,
    (p) => `משהו השתבש אצלנו (מזהה שגיאה ${p.errorId}); הפרטים נרשמו ביומן.`,
  ),

  // ── Who may call ────────────────────────────────────────────────────────────────────────────
  'auth.unauthorized': def(
    'Sign in, or send a valid bearer token in the Authorization header.',
    'התחברו, או שלחו אסימון גישה (bearer token) תקף בכותרת Authorization.',
  ),
  'auth.bad_token': def('The bearer token is not valid.', 'אסימון הגישה (bearer token) אינו תקף.'),
  'auth.session_ended': def('Your session has ended; sign in again.', 'החיבור שלכם הסתיים; התחברו שוב.'),
  'auth.admin_token_required': def('The admin bearer token is required.', 'נדרש אסימון הגישה של מנהל המערכת (admin bearer token).'),
  'auth.ops_token_required': def<{ what: 'metrics' | 'API docs'; basic: boolean }>(
    (p) => `The ${p.what} need ${p.basic ? 'a bearer token, or HTTP Basic with it as the password' : 'a bearer token'} (the operator's configured token).`,
    (p) => `${p.what === 'metrics' ? 'המדדים (metrics) דורשים' : 'תיעוד ה-API דורש'} ${p.basic ? 'אסימון גישה (bearer token), או HTTP Basic עם האסימון כסיסמה' : 'אסימון גישה (bearer token)'} (האסימון שהגדיר מפעיל המערכת).`,
  ),
  'auth.csrf': def<{ cookie: string }>(
    (p) => `A signed-in change must carry the ${p.cookie} cookie's value in the X-CSRF-Token header; reload the page and try again.`,
    (p) => `שינוי של משתמש מחובר חייב לשאת את ערך העוגייה ${p.cookie} בכותרת X-CSRF-Token; טענו מחדש את הדף ונסו שוב.`,
  ),
  'auth.role_required': def<{ role: RoleName }>(
    (p) => `This action needs the ${p.role} role.`,
    (p) => `הפעולה הזו דורשת תפקיד ${ROLE_HE[p.role]}.`,
  ),
  'auth.token_role_above_yours': def<{ yours: RoleName }>(
    (p) => `A token cannot have a role above yours (${p.yours}).`,
    (p) => `לאסימון לא יכול להיות תפקיד גבוה משלכם (${ROLE_HE[p.yours]}).`,
  ),
  'auth.revoke_needs_role': def<{ role: RoleName }>(
    (p) => `Only an ${p.role} can revoke an ${p.role} token.`,
    (p) => `רק משתמש בתפקיד ${ROLE_HE[p.role]} יכול לבטל אסימון בתפקיד ${ROLE_HE[p.role]}.`,
  ),
  'auth.grant_needs_role': def<{ role: RoleName }>(
    (p) => `Only an ${p.role} can give or change the ${p.role} role.`,
    (p) => `רק משתמש בתפקיד ${ROLE_HE[p.role]} יכול לתת את התפקיד ${ROLE_HE[p.role]} או לשנות אותו.`,
  ),
  'auth.invalid_credentials': def('The email or the password is wrong.', 'כתובת הדוא״ל או הסיסמה שגויות.'),
  'auth.too_many_attempts': def<{ retry: number }>(
    (p) => `Too many failed sign-ins for this email; try again in ${p.retry} seconds.`,
    (p) => `יותר מדי ניסיונות התחברות כושלים עם כתובת הדוא״ל הזו; נסו שוב בעוד ${p.retry} שניות.`,
  ),
  'auth.invalid_invite': def(
    'This invite is not valid: it was used already, has expired (after 7 days), or never existed. Ask for a new one.',
    'ההזמנה אינה תקפה: כבר השתמשו בה, פג תוקפה (אחרי 7 ימים), או שהיא מעולם לא הייתה קיימת. בקשו הזמנה חדשה.',
  ),

  // ── Not found ───────────────────────────────────────────────────────────────────────────────
  not_found: def<{ what: Resource }>(
    (p) => `${p.what} was not found.`,
    (p) => `${RESOURCES[p.what].he} לא ${RESOURCES[p.what].feminine ? 'נמצאה' : 'נמצא'}.`,
  ),
  'leads.not_found': def<{ ids: readonly number[] }>(
    (p) => `Lead ${ids(p.ids)} was not found.`,
    (p) => (p.ids.length === 1 ? `הליד ${ids(p.ids)} לא נמצא.` : `הלידים ${ids(p.ids)} לא נמצאו.`),
  ),

  // ── People ──────────────────────────────────────────────────────────────────────────────────
  'people.user_exists': def('A user with this email already exists in this business.', 'כבר יש בעסק הזה משתמש עם כתובת הדוא״ל הזו.'),
  'people.email_taken': def(
    'This email already signs in to a Bulkhead account; invite another address.',
    'כתובת הדוא״ל הזו כבר משמשת להתחברות לחשבון Bulkhead; הזמינו כתובת אחרת.',
  ),
  'people.email_taken_elsewhere': def(
    'This email already signs in to another Bulkhead account.',
    'כתובת הדוא״ל הזו כבר משמשת להתחברות לחשבון Bulkhead אחר.',
  ),
  'people.last_owner': def(
    'A business must keep at least one enabled owner; make someone else owner first.',
    'לעסק חייב להישאר לפחות בעלים פעיל אחד; קודם הפכו משתמש אחר לבעלים.',
  ),

  // ── The bulk gate and idempotency ───────────────────────────────────────────────────────────
  'gate.operation_in_progress': def<{ jobId: number }>(
    (p) => `Job ${p.jobId} is already running this operation for your business; wait for it to finish or cancel it.`,
    (p) => `משימה ${p.jobId} כבר מבצעת את הפעולה הזו עבור העסק שלכם; המתינו שתסתיים או בטלו אותה.`,
  ),
  'gate.operation_locked': def('This operation is already in progress for your business.', 'הפעולה הזו כבר מתבצעת עבור העסק שלכם.'),
  'gate.duplicate_request': def<{ jobId: number }>(
    (p) => `An identical request created job ${p.jobId} moments ago; it was not repeated.`,
    (p) => `בקשה זהה יצרה את משימה ${p.jobId} לפני רגע; היא לא בוצעה שוב.`,
  ),
  'gate.rate_limited': def<{ perMinute: number }>(
    (p) => `At most ${p.perMinute} of these operations per minute are allowed for your business.`,
    (p) => `העסק שלכם רשאי לבצע לכל היותר ${p.perMinute} פעולות כאלה בדקה.`,
  ),
  'gate.idempotency_key_reused': def(
    'This Idempotency-Key was already used with a different request body; use a new key for a new request.',
    'ה-Idempotency-Key הזה כבר שימש עם גוף בקשה אחר; השתמשו במפתח חדש לבקשה חדשה.',
  ),

  // ── Jobs, operations ────────────────────────────────────────────────────────────────────────
  'jobs.invalid_transition': def<{ action: JobAction; jobId: number; status: JobStatus; requested: 'cancel' | 'pause' | null }>(
    (p) => `Cannot ${p.action} job ${p.jobId}: it is ${p.status}${p.requested ? ` (${p.requested} requested)` : ''}; `
      + `only ${TRANSITION[p.action].allowedEn} can be ${TRANSITION[p.action].done}.`,
    (p) => `אי אפשר ${TRANSITION[p.action].he} את משימה ${p.jobId}: היא ${JOB_STATUS_HE[p.status]}`
      + `${p.requested === 'cancel' ? ' (התבקש ביטול)' : p.requested === 'pause' ? ' (התבקשה השהיה)' : ''}; `
      + `אפשר ${TRANSITION[p.action].he} רק ${TRANSITION[p.action].allowedHe}.`,
  ),
  'ops.migrations_pending': def('Migrations are not applied yet.', 'המיגרציות של מסד הנתונים עדיין לא הוחלו.'),
  'ops.database_unreachable': def<{ errorId: string }>(
    (p) => `The database is unreachable (error id ${p.errorId}).`,
    (p) => `אין גישה למסד הנתונים (מזהה שגיאה ${p.errorId}).`,
  ),
  'recordings.range_not_satisfiable': def<{ size: number }>((p) => `The file has ${p.size} bytes.`, (p) => `בקובץ יש ${p.size} בתים.`),
  // Transcripts (src/transcripts/)
  'transcripts.no_recorded_calls': def(
    'None of these calls is a recorded call of your business.',
    'אף אחת מהשיחות האלה אינה שיחה מוקלטת של העסק שלכם.',
  ),
  'issue.transcribe_target': def('give exactly one of call_sids or run_id', 'צריך לשלוח בדיוק אחד מהשדות call_sids או run_id'),

  // ── Leads and imports ───────────────────────────────────────────────────────────────────────
  'leads.phone_invalid': def<{ raw: string }>(
    (p) => `The phone number "${p.raw}" is not a valid phone number.`,
    (p) => `"${p.raw}" אינו מספר טלפון תקין.`,
  ),
  'leads.lead_exists': def<{ phone: string; leadId?: number }>(
    (p) => `A lead with the phone ${p.phone} already exists${p.leadId === undefined ? '' : ` (lead ${p.leadId})`}.`,
    (p) => `כבר קיים ליד עם הטלפון ${p.phone}${p.leadId === undefined ? '' : ` (ליד ${p.leadId})`}.`,
  ),
  'leads.owner_not_user': def<{ userId: number }>(
    (p) => `User ${p.userId} is not a user of your business.`,
    (p) => `המשתמש ${p.userId} אינו משתמש של העסק שלכם.`,
  ),
  'import.no_rows': def('The import has no rows.', 'בייבוא אין שורות.'),
  'import.too_many_rows': def<{ max: number; count: number }>(
    (p) => `An import holds at most ${p.max} rows; this one has ${p.count}.`,
    (p) => `ייבוא יכול להכיל לכל היותר ${p.max} שורות; בייבוא הזה יש ${p.count}.`,
  ),
  'import.csv_no_phone_column': def(
    'The CSV needs a header row with a "phone" column (optional: name, email, tags).',
    'קובץ ה-CSV צריך שורת כותרת עם עמודה "phone" (ואם רוצים גם: name, email, tags).',
  ),
  'import.csv_unreadable': def<{ reason: string }>(
    (p) => `The CSV could not be read: ${p.reason}`,
    (p) => `אי אפשר לקרוא את קובץ ה-CSV: ${p.reason}`,
  ),
  'import.invalid': def<{ issues: readonly IssueRef[] }>(
    (p, t) => `The import is invalid: ${summary(p.issues, t)}.`,
    (p, t) => `הייבוא אינו תקין: ${summary(p.issues, t)}.`,
  ),
  'import.wrong_body': def(
    'Send a CSV import as text/csv, or JSON as {"leads": [...]}.',
    'שלחו ייבוא CSV כ-text/csv, או JSON בצורה {"leads": [...]}.',
  ),
  /** An import row's reason (GET /imports/{id} errors[].message): "phone: is required". */
  'import.row': def<{ field: RowField; reason: MessageRef }>(
    (p, t) => `${p.field}: ${t(p.reason)}`,
    (p, t) => `${ROW_FIELD_HE[p.field]}: ${t(p.reason)}`,
  ),

  // ── Outbound calls ──────────────────────────────────────────────────────────────────────────
  'outbound.concurrency_limit': def<{ free: number; limit: number; wanted: number }>(
    (p) => `Your business has ${p.free} free call slot(s) of ${p.limit}; ${p.wanted} call(s) need a slot each. Try again when a call ends.`,
    (p) => `לעסק שלכם יש ${p.free} קווי שיחה פנויים מתוך ${p.limit}, ו-${p.wanted} שיחות צריכות קו כל אחת. נסו שוב כשתסתיים שיחה.`,
  ),
  'outbound.lead_in_call': def<{ ids: readonly number[] }>(
    (p) => `Lead(s) ${ids(p.ids)} are already in a call.`,
    (p) => (p.ids.length === 1 ? `הליד ${ids(p.ids)} כבר בשיחה.` : `הלידים ${ids(p.ids)} כבר בשיחה.`),
  ),
  'outbound.do_not_call': def<{ ids: readonly number[] }>(
    (p) => `Lead(s) ${ids(p.ids)} are on your do-not-call list.`,
    (p) => (p.ids.length === 1 ? `הליד ${ids(p.ids)} ברשימת "אל תתקשרו" שלכם.` : `הלידים ${ids(p.ids)} ברשימת "אל תתקשרו" שלכם.`),
  ),
  'outbound.phone_invalid': def('The phone number is not valid.', 'מספר הטלפון אינו תקין.'),
  'outbound.no_leads': def('None of these ids is a lead of your business.', 'אף אחד מהמזהים האלה אינו ליד של העסק שלכם.'),

  // ── WhatsApp broadcasts ─────────────────────────────────────────────────────────────────────
  'broadcasts.recipients_invalid': def<{ count: number; complete: boolean; first: IssueRef }>(
    (p, t) => `${p.complete ? `${p.count}` : `At least ${p.count}`} recipient${p.count === 1 ? ' is' : 's are'} invalid `
      + `(first: ${p.first.path} ${t(p.first.message)}); nothing was sent.`,
    (p, t) => `${p.complete ? (p.count === 1 ? 'נמען אחד אינו תקין' : `${p.count} נמענים אינם תקינים`) : `לפחות ${p.count} נמענים אינם תקינים`} `
      + `(הראשון: ${p.first.path} ${t(p.first.message)}); שום הודעה לא נשלחה.`,
  ),

  // ── Gmail receipts ──────────────────────────────────────────────────────────────────────────
  'gmail.not_connected': def(
    'Gmail is not connected: connect a mailbox first (POST /api/v1/integrations/gmail/connect).',
    'Gmail לא מחובר: חברו קודם תיבת דואר (POST /api/v1/integrations/gmail/connect).',
  ),
  'gmail.reauth_required': def(
    'Google no longer lets Bulkhead read this mailbox (the access was revoked or has expired). Connect Gmail again to resume syncing receipts.',
    'Google כבר לא מאפשרת ל-Bulkhead לקרוא את תיבת הדואר הזו (ההרשאה בוטלה או פגה). חברו את Gmail מחדש כדי שסנכרון הקבלות יתחדש.',
  ),
  'gmail.unavailable': def(
    'Gmail did not answer (it is busy or down); the sync tries again by itself.',
    'Gmail לא ענה (עמוס או לא זמין); הסנכרון ינסה שוב מעצמו.',
  ),
  'gmail.oauth_state_invalid': def(
    'This Google sign-in cannot be completed: its link was already used, has expired, or was started in another browser or account. Start connecting Gmail again.',
    'אי אפשר להשלים את ההתחברות ל-Google: הקישור כבר נוצל, פג תוקפו, או שההתחברות התחילה בדפדפן או בחשבון אחר. התחילו לחבר את Gmail מחדש.',
  ),
  'gmail.oauth_refused': def(
    'Google did not complete the sign-in (access was not allowed, or the code was refused). Start connecting Gmail again.',
    'Google לא השלימה את ההתחברות (הגישה לא אושרה, או שהקוד נדחה). התחילו לחבר את Gmail מחדש.',
  ),

  // ── Channels: the business's own caller ids and senders ─────────────────────────────────────
  'channels.caller_ids_invalid': def<{ count: number; first: IssueRef }>(
    (p, t) => `${p.count} caller id${p.count === 1 ? ' is' : 's are'} invalid (first: ${p.first.path} ${t(p.first.message)}); nothing was changed.`,
    (p, t) => `${p.count === 1 ? 'מספר יוצא אחד אינו תקין' : `${p.count} מספרים יוצאים אינם תקינים`} (הראשון: ${p.first.path} ${t(p.first.message)}); שום דבר לא השתנה.`,
  ),
  'channels.caller_id_taken': def<{ ids: readonly string[] }>(
    (p) => `${p.ids.join(', ')} ${p.ids.length === 1 ? 'is a caller id' : 'are caller ids'} of another business; a number calls for one business only.`,
    (p) => `${p.ids.join(', ')} ${p.ids.length === 1 ? 'הוא מספר יוצא' : 'הם מספרים יוצאים'} של עסק אחר; מספר מחייג עבור עסק אחד בלבד.`,
  ),
  'channels.caller_id_claimed': def(
    'A caller id is being claimed by another business right now; a number calls for one business only.',
    'עסק אחר תופס ממש עכשיו את אחד המספרים היוצאים; מספר מחייג עבור עסק אחד בלבד.',
  ),
  'channels.auth_token_of_other_account': def(
    'The auth token is shown as "…" and its last four characters only to keep the stored one of the same account; send the auth token itself.',
    'אסימון האימות (auth token) מוצג כ-"…" וארבעת התווים האחרונים שלו רק כדי לשמור את האסימון השמור של אותו חשבון; שלחו את האסימון עצמו.',
  ),
  'channels.secret_not_shown': def<{ what: SecretName }>(
    (p) => `The ${p.what} is shown as "…" and its last four characters only to keep the stored one; send the ${p.what} itself.`,
    (p) => `${SECRET_HE[p.what]} מוצג כ-"…" וארבעת התווים האחרונים שלו רק כדי לשמור את הערך השמור; שלחו את ${SECRET_HE[p.what]} עצמו.`,
  ),
  'channels.shared_sender': def<{ id: string }>(
    (p) => `${p.id} is the deployment's shared sender (WHATSAPP_PHONE_NUMBER_ID); a business's own sender must be another number.`,
    (p) => `${p.id} הוא השולח המשותף של המערכת (WHATSAPP_PHONE_NUMBER_ID); השולח של עסק צריך להיות מספר אחר.`,
  ),
  'channels.sender_taken': def<{ id: string }>(
    (p) => `${p.id} is the WhatsApp sender of another business; a number sends for one business only.`,
    (p) => `${p.id} הוא שולח ה-WhatsApp של עסק אחר; מספר שולח עבור עסק אחד בלבד.`,
  ),
  'channels.sender_claimed': def<{ id: string }>(
    (p) => `${p.id} is being claimed by another business right now; a number sends for one business only.`,
    (p) => `עסק אחר תופס את ${p.id} ממש עכשיו; מספר שולח עבור עסק אחד בלבד.`,
  ),

  // ── Trash ───────────────────────────────────────────────────────────────────────────────────
  'trash.delete_job_not_found': def<{ jobId: number }>(
    (p) => `Delete job ${p.jobId} was not found.`,
    (p) => `משימת המחיקה ${p.jobId} לא נמצאה.`,
  ),
  'trash.delete_in_progress': def<{ jobId: number; status: JobStatus }>(
    (p) => `Job ${p.jobId} is still deleting (${p.status}). Cancel it, or wait until it ends, then restore.`,
    (p) => `משימה ${p.jobId} עדיין מוחקת (${JOB_STATUS_HE[p.status]}). בטלו אותה או המתינו שתסתיים, ואז שחזרו.`,
  ),

  // ── Webhooks (Twilio, WhatsApp) ─────────────────────────────────────────────────────────────
  'webhooks.twilio_signature': def(
    'The X-Twilio-Signature header is missing or does not match this request.',
    'הכותרת X-Twilio-Signature חסרה או אינה תואמת את הבקשה.',
  ),
  'webhooks.twilio_not_this_call': def(
    'This callback is not bound to the call its URL names (callback token, CallSid or AccountSid).',
    'הקריאה החוזרת (callback) הזו אינה שייכת לשיחה שהכתובת שלה מציינת (אסימון ה-callback, CallSid או AccountSid).',
  ),
  'webhooks.twilio_invalid': def<{ issues: readonly IssueRef[] }>(
    (p, t) => `The callback is invalid: ${summary(p.issues, t, 5, ' ')}.`,
    (p, t) => `הקריאה החוזרת (callback) אינה תקינה: ${summary(p.issues, t, 5, ' ')}.`,
  ),
  'webhooks.verify_token': def('The verification token does not match.', 'אסימון האימות אינו תואם.'),
  'webhooks.hub_signature': def(
    'The X-Hub-Signature-256 header is missing or does not match the body.',
    'הכותרת X-Hub-Signature-256 חסרה או אינה תואמת את גוף הבקשה.',
  ),
  'webhooks.not_json': def('The webhook body is not valid JSON.', 'גוף ה-webhook אינו JSON תקין.'),
  'webhooks.unstorable_text': def<{ path: string; char: UnstorableChar; inKey?: boolean }>(
    (p) => `The webhook body is invalid: ${p.path} ${unstorableEn(p)}, which cannot be stored.`,
    (p) => `גוף ה-webhook אינו תקין: ${p.path} ${unstorableHe(p)}, ואת זה אי אפשר לשמור.`,
  ),
  'webhooks.envelope_invalid': def<{ issues: readonly IssueRef[] }>(
    (p, t) => `The WhatsApp webhook envelope is invalid: ${summary(p.issues, t)}.`,
    (p, t) => `מעטפת ה-webhook של WhatsApp אינה תקינה: ${summary(p.issues, t)}.`,
  ),

  // ── Issues: the phrase after a field's path in details.issues ───────────────────────────────
  'issue.required': def('is required', 'חובה'),
  'issue.invalid': def('is invalid', 'אינו תקין'),
  'issue.empty_json': def('is empty; send a JSON value or no Content-Type', 'ריק; שלחו ערך JSON, או בקשה בלי Content-Type'),
  'issue.not_json': def('is not valid JSON', 'אינו JSON תקין'),
  'issue.content_length_mismatch': def('does not match the body', 'אינו תואם את גוף הבקשה'),
  'issue.path_segment_too_long': def('a path segment is too long', 'אחד מחלקי הנתיב ארוך מדי'),
  'issue.bad_percent_encoding': def('is not valid percent-encoding', 'קידוד האחוזים (percent-encoding) בה אינו תקין'),
  'issue.not_http': def('is not valid HTTP/1.1', 'אינה בקשת HTTP/1.1 תקינה'),
  'issue.cursor_invalid': def('invalid cursor', 'סמן לא תקין'),
  /** "contains the NUL character (U+0000)", to follow a path in a sentence. */
  'issue.unstorable_reason': def<{ char: UnstorableChar; inKey?: boolean }>(unstorableEn, unstorableHe),
  'issue.unstorable_text': def<{ char: UnstorableChar; inKey?: boolean }>(
    (p) => `must not be text that cannot be stored: it ${unstorableEn(p)}`,
    (p) => `אסור שיהיה בו טקסט שאי אפשר לשמור: ${unstorableHe(p)}`,
  ),
  /** An import cell that cannot be stored: "name: contains the NUL character (U+0000), which cannot be stored". */
  'issue.unstorable_cell': def<{ char: UnstorableChar }>(
    (p) => `${unstorableEn(p)}, which cannot be stored`,
    (p) => `${unstorableHe(p)}, ואת זה אי אפשר לשמור`,
  ),
  'issue.json_too_deep': def<{ max: number }>((p) => `nests deeper than ${p.max} levels`, (p) => `מקונן לעומק של יותר מ-${p.max} רמות`),
  'issue.json_too_many_keys': def<{ max: number }>(
    (p) => `has an object of more than ${p.max} keys`,
    (p) => `יש בו אובייקט עם יותר מ-${p.max} מפתחות`,
  ),
  'issue.json_too_many_items': def<{ max: number }>(
    (p) => `has an array of more than ${p.max} items`,
    (p) => `יש בו מערך עם יותר מ-${p.max} פריטים`,
  ),
  'issue.must_be_array': def('must be an array', 'צריך להיות מערך'),
  'issue.list_min': def<{ min: number }>(
    (p) => `must hold at least ${p.min} item${p.min === 1 ? '' : 's'}`,
    (p) => (p.min === 1 ? 'צריך להכיל לפחות פריט אחד' : `צריך להכיל לפחות ${p.min} פריטים`),
  ),
  'issue.list_max': def<{ max: number }>((p) => `must hold at most ${p.max} items`, (p) => `יכול להכיל לכל היותר ${p.max} פריטים`),
  'issue.list_many_bad': def<{ max: number }>(
    (p) => `has at least ${p.max} bad items; the rest were not checked`,
    (p) => `יש בו לפחות ${p.max} פריטים פגומים; השאר לא נבדקו`,
  ),
  'issue.positive_id': def('must be a positive integer id', 'צריך להיות מזהה: מספר שלם חיובי'),
  'issue.instant_range': def(
    'must be a date-time between 0001-01-01 and 9999-12-31 (UTC)',
    'צריך להיות תאריך ושעה בין 0001-01-01 ל-9999-12-31 (UTC)',
  ),
  'issue.timezone': def('must be an IANA time zone such as Asia/Jerusalem', 'צריך להיות אזור זמן של IANA, למשל Asia/Jerusalem'),
  'issue.country_code': def(
    'must be an ISO 3166 alpha-2 country code such as IL',
    'צריך להיות קוד מדינה בן שתי אותיות לפי ISO 3166, למשל IL',
  ),
  'issue.country_unsupported': def('is not a country whose phone numbers we can read', 'אין לנו אפשרות לקרוא מספרי טלפון של המדינה הזו'),
  'issue.slug': def('must be a lowercase slug: letters, digits, "_" or "-"', 'צריך להיות מזהה באותיות לטיניות קטנות: אותיות, ספרות, "_" או "-"'),
  'issue.hhmm': def('must be HH:MM (00:00–24:00)', 'צריך להיות שעה בצורה HH:MM (בין 00:00 ל-24:00)'),
  'issue.currency': def(
    'must be an ISO 4217 code of 3 uppercase letters, such as USD',
    'צריך להיות קוד מטבע לפי ISO 4217, שלוש אותיות לטיניות גדולות, למשל ILS',
  ),
  'issue.two_decimals': def('must have at most 2 decimals', 'מותרות לכל היותר 2 ספרות אחרי הנקודה העשרונית'),
  'issue.role_or_disabled': def('give role or disabled', 'צריך לשלוח role או disabled'),
  'issue.business_change_empty': def(
    'give at least one of default_country, timezone, locale',
    'צריך לשלוח לפחות אחד מהשדות default_country, timezone, locale',
  ),
  'issue.bulk_set_empty': def(
    'set at least one of status, owner_user_id, tags_add, tags_remove',
    'צריך לקבוע לפחות אחד מהשדות status, owner_user_id, tags_add, tags_remove',
  ),
  'issue.one_target': def(
    'give exactly one of import_id, lead_ids or all: true',
    'צריך לשלוח בדיוק אחד מהשדות import_id, lead_ids או all: true',
  ),
  'issue.not_user_of_business': def('is not a user of your business', 'אינו משתמש של העסק שלכם'),
  'issue.not_lead_of_business': def('is not a lead of your business', 'אינו ליד של העסק שלכם'),
  'issue.no_lead_of_business': def('no lead of your business', 'אף אחד מהם אינו ליד של העסק שלכם'),
  'issue.phone_invalid': def('is not a valid phone number', 'אינו מספר טלפון תקין'),
  'issue.e164': def('must be a phone number in international form, e.g. +972501234567', 'צריך להיות מספר טלפון בפורמט בינלאומי, למשל +972501234567'),
  'issue.flow_url': def('must be an http(s) URL without a user name or password', 'צריך להיות כתובת http(s) בלי שם משתמש או סיסמה'),
  'issue.flow_url_https': def('must be an https URL without a user name or password', 'צריך להיות כתובת https בלי שם משתמש או סיסמה'),
  'issue.flow_say_or_play': def('give say or play_url (or both)', 'צריך לתת say או play_url (או את שניהם)'),
  'issue.retry_delay_with_next_day': def('cannot be given with after "next_day" (the retry waits for the next opening of the calling hours)', 'אי אפשר לשלוח אותו יחד עם after "next_day" (הניסיון החוזר ממתין לפתיחה הבאה של שעות החיוג)'),
  'issue.retry_attempts_differ': def(
    'differs from the count given for the same outcome in retry.busy / retry.no_answer; give one, or the same number',
    'שונה מהמספר שנשלח לאותה תוצאה ב-retry.busy / retry.no_answer; שלחו אחד מהם, או את אותו מספר',
  ),
  'issue.flow_agents_repeated': def('lists a number more than once', 'מופיע בה מספר יותר מפעם אחת'),
  'issue.phone_invalid_here': def(
    'is not a valid phone number for the business\'s default country or in international (+…) form',
    'אינו מספר טלפון תקין במדינת ברירת המחדל של העסק, וגם לא בפורמט בינלאומי (+…)',
  ),
  /** An import row's phone: `phone: "123" is not a valid phone number`. */
  'issue.phone_not_valid': def<{ raw: string }>(
    (p) => `"${p.raw}" is not a valid phone number`,
    (p) => `"${p.raw}" אינו מספר טלפון תקין`,
  ),
  'issue.rows_required': def('at least one data row is required', 'נדרשת לפחות שורת נתונים אחת'),
  'issue.rows_at_most': def<{ max: number }>((p) => `at most ${p.max} rows`, (p) => `לכל היותר ${p.max} שורות`),
  'issue.csv_no_phone_column': def('missing "phone" column in the header row', 'חסרה עמודה "phone" בשורת הכותרת'),
  /** csv-parse's own (English) words for a file it cannot read. */
  'issue.csv_unreadable': def<{ reason: string }>((p) => p.reason, (p) => `אי אפשר לקרוא את הקובץ: ${p.reason}`),
  'issue.expected_leads_object': def('expected an object with "leads"', 'צריך להיות אובייקט עם "leads"'),
  'issue.row_not_object': def('must be an object ({"phone": …})', 'צריך להיות אובייקט ({"phone": …})'),
  'issue.recipient_not_object': def('must be an object {phone, lead_id?}', 'צריך להיות אובייקט {phone, lead_id?}'),
  'issue.unknown_key': def<{ key: string }>((p) => `has an unknown key "${p.key}"`, (p) => `יש בו מפתח לא מוכר "${p.key}"`),
  'issue.recipient_phone': def('phone: must be a string of 1 to 40 characters', 'phone: צריך להיות טקסט של 1 עד 40 תווים'),
  'issue.recipient_lead_id': def('lead_id: must be a positive integer id', 'lead_id: צריך להיות מזהה: מספר שלם חיובי'),
  'issue.lone_surrogate': def('must be valid Unicode text (it has a lone surrogate)', 'צריך להיות טקסט Unicode תקין (יש בו surrogate בודד)'),
  'issue.template_name': def(
    'template names are lowercase letters, digits and underscores',
    'שם של תבנית מורכב מאותיות לטיניות קטנות, ספרות וקווים תחתונים',
  ),
  'issue.language_code': def('a language code such as en or en_US', 'צריך להיות קוד שפה, למשל he או en_US'),
  'issue.text_or_template': def('give exactly one of text or template', 'צריך לשלוח בדיוק אחד מהשדות text או template'),
  'issue.recipients_required': def('give recipients and/or lead_ids (at least one)', 'צריך לשלוח recipients ו/או lead_ids (לפחות אחד)'),
  'issue.recipients_at_most': def<{ max: number }>(
    (p) => `at most ${p.max} recipients in all`,
    (p) => `לכל היותר ${p.max} נמענים בסך הכול`,
  ),
  'issue.twilio_key': def<{ name: string }>(
    (p) => `has a key that is not a Twilio parameter name: ${JSON.stringify(p.name)}`,
    (p) => `יש בו מפתח שאינו שם של פרמטר של Twilio: ${JSON.stringify(p.name)}`,
  ),
  'issue.once': def('must appear once', 'צריך להופיע פעם אחת בלבד'),
  'issue.account_sid': def('must be an account sid (AC + 32 hex digits)', 'צריך להיות מזהה חשבון (AC ואחריו 32 ספרות הקסדצימליות)'),
  'issue.call_sid': def('must be a call sid (CA + 32 hex digits)', 'צריך להיות מזהה שיחה (CA ואחריו 32 ספרות הקסדצימליות)'),
  'issue.recording_sid': def('must be a recording sid (RE + 32 hex digits)', 'צריך להיות מזהה הקלטה (RE ואחריו 32 ספרות הקסדצימליות)'),
  'issue.recording_status': def('must be a recording status', 'צריך להיות סטטוס של הקלטה'),
  'issue.whole_seconds': def('must be a whole number of seconds', 'צריך להיות מספר שלם של שניות'),
  'issue.callback_token': def('must be a callback token (32 hex digits)', 'צריך להיות אסימון callback (32 ספרות הקסדצימליות)'),
  'issue.password_min': def<{ min: number }>((p) => `must be at least ${p.min} characters`, (p) => `צריכה להכיל לפחות ${p.min} תווים`),
  'issue.one_restore_target': def('give exactly one of job_id or lead_ids', 'צריך לשלוח בדיוק אחד מהשדות job_id או lead_ids'),
  'issue.auth_token_of_other_account': def(
    'keeps a stored auth token only for the account it belongs to: send the auth token itself',
    'אסימון שמור נשמר רק עבור החשבון שלו: שלחו את האסימון עצמו',
  ),
  'issue.secret_not_shown': def<{ what: SecretName }>(
    (p) => `keeps the stored ${p.what} only when it is the one shown: send the ${p.what} itself`,
    (p) => `הערך השמור נשמר רק כשהוא זה שמוצג: שלחו את ${SECRET_HE[p.what]} עצמו`,
  ),
  'issue.secret_shape': def<{ what: SecretName; min: number; max: number }>(
    (p) => `must be the ${p.what} (${p.min} to ${p.max} printable characters, no spaces), or "…" and its last four characters to keep the stored one`,
    (p) => `צריך להיות ${SECRET_HE[p.what]} (${p.min} עד ${p.max} תווים נראים, בלי רווחים), או "…" וארבעת התווים האחרונים שלו כדי לשמור את הערך השמור`,
  ),
  'issue.twilio_account_sid': def('must be a Twilio account sid (AC + 32 hex digits)', 'צריך להיות מזהה חשבון של Twilio (AC ואחריו 32 ספרות הקסדצימליות)'),
  'issue.whatsapp_phone_number_id': def('must be a WhatsApp phone number id (digits)', 'צריך להיות מזהה מספר טלפון של WhatsApp (ספרות בלבד)'),
  'issue.caller_id_length': def('must be a phone number (at most 40 characters)', 'צריך להיות מספר טלפון (עד 40 תווים)'),
  'issue.caller_ids_at_most': def<{ max: number }>((p) => `must hold at most ${p.max} caller ids`, (p) => `יכול להכיל לכל היותר ${p.max} מספרים יוצאים`),
  'issue.before_year_10000': def('must be a time before the year 10000', 'צריך להיות זמן לפני השנה 10000'),

  // ── zod's own issues (English: zod's text as it was made) ───────────────────────────────────
  'zod.invalid_type': def<ZodIssueParams>(zodEn, (p) => {
    const received = /received (\S+)$/.exec(p.text)?.[1];
    const expected = typeHe(p.issue.expected);
    if (received === 'undefined') return `חובה: צריך להיות ${expected}`;
    return received ? `צריך להיות ${expected}, התקבל ${typeHe(received)}` : `צריך להיות ${expected}`;
  }),
  'zod.too_small': def<ZodIssueParams>(zodEn, (p) => tooSmallHe(p.issue)),
  'zod.too_big': def<ZodIssueParams>(zodEn, (p) => tooBigHe(p.issue)),
  'zod.invalid_format': def<ZodIssueParams>(zodEn, (p) => invalidFormatHe(p.issue)),
  'zod.invalid_value': def<ZodIssueParams>(zodEn, (p) => {
    const values = Array.isArray(p.issue.values) ? p.issue.values.map(quoted) : [];
    return values.length === 1 ? `ערך לא תקין: צריך להיות ${values[0]}` : `ערך לא תקין: צריך להיות אחד מאלה: ${values.join(' | ')}`;
  }),
  'zod.unrecognized_keys': def<ZodIssueParams>(zodEn, (p) => {
    const keys = Array.isArray(p.issue.keys) ? p.issue.keys.map(quoted) : [];
    return keys.length === 1 ? `מפתח לא מוכר: ${keys[0]}` : `מפתחות לא מוכרים: ${keys.join(', ')}`;
  }),
  'zod.not_multiple_of': def<ZodIssueParams>(zodEn, (p) => `מספר לא תקין: צריך להיות כפולה של ${num(p.issue.divisor)}`),
  'zod.invalid_union': def<ZodIssueParams>(zodEn, () => 'ערך לא תקין: אינו מתאים לאף אחת מהצורות המותרות'),
  'zod.invalid_key': def<ZodIssueParams>(zodEn, () => 'מפתח לא תקין'),
  'zod.invalid_element': def<ZodIssueParams>(zodEn, () => 'ערך לא תקין באחד הפריטים'),
  'zod.custom': def<ZodIssueParams>(zodEn, () => 'ערך לא תקין'),
} as const;

export type MessageKey = keyof typeof MESSAGES;
export type ParamsOf<K extends MessageKey> = (typeof MESSAGES)[K] extends Entry<infer P> ? P : never;
/** A message to be rendered in the reader's language: a catalogue key and its parameters. */
export type Message<K extends MessageKey = MessageKey> = { [Q in K]: { readonly key: Q; readonly params: ParamsOf<Q> } }[K];

export const MESSAGE_KEYS = Object.keys(MESSAGES) as MessageKey[];

export function msg<K extends MessageKey>(key: K, ...params: ParamsOf<K> extends void ? [] : [ParamsOf<K>]): Message<K> {
  return { key, params: params[0] } as Message<K>;
}

/** Whether a key's texts take parameters (the catalogue test renders those with samples). */
export function takesParams(key: MessageKey): boolean {
  return typeof (MESSAGES[key] as Entry<unknown>).en !== 'string' || typeof (MESSAGES[key] as Entry<unknown>).he !== 'string';
}

export function isMessageKey(key: unknown): key is MessageKey {
  return typeof key === 'string' && Object.hasOwn(MESSAGES, key);
}

/**
 * A message in `locale`. A bare string (text not in the catalogue yet) is the same in every
 * language; an unknown key (stored by another version) renders as the key itself.
 */
export function render(m: MessageRef | string, locale: Locale): string {
  if (typeof m === 'string') return m;
  if (!isMessageKey(m.key)) return m.key;
  const text = (MESSAGES[m.key] as Entry<unknown>)[locale];
  return typeof text === 'string' ? text : text(m.params, (inner) => render(inner, locale));
}

/** The English text, for logs and for what is stored as text (a job's last_error). */
export const english = (m: MessageRef | string): string => render(m, 'en');

// Messages by their English text. zod keeps a check's `params` only for `.refine()` and
// `ctx.addIssue()`; the issue of a `.regex()` or `.min()` has just the text, by which its message
// is found again: every parameterless text is here, and every message a schema was built with
// (zodMessage, at module load). The parameterless texts are unique (the catalogue test says so).
const BY_ENGLISH = new Map<string, Message>();
for (const key of MESSAGE_KEYS) {
  const en = (MESSAGES[key] as Entry<unknown>).en;
  if (typeof en === 'string') BY_ENGLISH.set(en, { key, params: undefined } as Message);
}

/**
 * zod check options that carry a catalogue message: zod keeps the English as the issue's
 * message (what every English answer always said), and `issueMessage` finds the message again.
 */
export function zodMessage(m: Message): { message: string; params: { msg: Message } } {
  const message = english(m);
  BY_ENGLISH.set(message, m);
  return { message, params: { msg: m } };
}

/** What a zod issue's Hebrew needs; the rest (its path, a format's long pattern) is not kept. */
const ISSUE_FIELDS = ['code', 'expected', 'origin', 'minimum', 'maximum', 'inclusive', 'exact', 'format', 'prefix', 'suffix', 'includes', 'values', 'keys', 'divisor'];

/** A zod issue (or Fastify's record of one: code, message and the issue's other fields) as a message. */
export function issueMessage(issue: { readonly code?: unknown; readonly message: string }): Message {
  const fields = issue as unknown as Readonly<Record<string, unknown>>;
  const carried = (fields.params as { msg?: MessageRef } | undefined)?.msg;
  if (carried && isMessageKey(carried.key)) return carried as Message;
  const known = BY_ENGLISH.get(issue.message);
  if (known) return known;
  const kept: Record<string, unknown> = {};
  for (const f of ISSUE_FIELDS) if (fields[f] !== undefined) kept[f] = fields[f];
  if (kept.format === 'regex' && typeof fields.pattern === 'string') kept.pattern = fields.pattern;
  const code = `zod.${String(issue.code)}`;
  return { key: isMessageKey(code) ? code : 'zod.custom', params: { text: issue.message, issue: kept } } as Message;
}
