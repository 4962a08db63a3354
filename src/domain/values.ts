import { z } from "@hono/zod-openapi";

// Form bodies and query strings carry every value as text; these accept both the JSON type and
// its text form, and nothing looser (no "" → 0, no "abc" → NaN, no "no" → true).

const INT_RE = /^-?\d+$/;
const NUM_RE = /^-?(\d+(\.\d+)?|\.\d+)$/;

const fromText = (re: RegExp) => (v: unknown) => (typeof v === "string" && re.test(v.trim()) ? Number(v.trim()) : v);

/** A positive integer id, from a number or its decimal text. */
export const zId = () =>
  z.preprocess(fromText(INT_RE), z.number({ error: "must be an integer" }).int("must be an integer").positive("must be positive"));

export const zInt = () => z.preprocess(fromText(INT_RE), z.number({ error: "must be an integer" }).int("must be an integer"));

/** A finite number, from a number or its decimal text. */
export const zNumber = () => z.preprocess(fromText(NUM_RE), z.number({ error: "must be a number" }).finite());

/** A money amount: ≥ 0, at most 2 decimals, below a billion. */
export const zMoney = () =>
  zNumber().pipe(
    z
      .number()
      .min(0, "must not be negative")
      .max(999_999_999, "is too large")
      .refine((n) => Math.abs(Math.round(n * 100) - n * 100) < 1e-6, "must have at most 2 decimal places"),
  );

const TRUE = new Set(["true", "1", "on", "yes"]);
const FALSE = new Set(["false", "0", "off", "no", ""]);

/** A boolean, from true/false, 1/0 or their text forms. */
export const zBool = () =>
  z.preprocess(
    (v) => {
      if (v === 1 || v === 0) return v === 1;
      if (typeof v === "string") {
        const s = v.trim().toLowerCase();
        if (TRUE.has(s)) return true;
        if (FALSE.has(s)) return false;
      }
      return v;
    },
    z.boolean({ error: "must be true or false" }),
  );

/** A list from a form or query value: "a,b", "[\"a\",\"b\"]" or "" (none); arrays pass as they are. */
export function listFromText(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const s = v.trim();
  if (s === "") return [];
  if (s.startsWith("[")) {
    try {
      return JSON.parse(s);
    } catch {
      return v;
    }
  }
  return s.split(",").map((x) => x.trim());
}

/** A list of ids: a JSON array, repeated form keys, "1,2,3" or "[1,2,3]". */
export const zIdList = () =>
  z.preprocess(
    (v) => (typeof v === "number" ? [v] : listFromText(v)),
    z.array(zId(), { error: "must be a list of ids" }).max(100, "at most 100 ids"),
  );

// Any 8-4-4-4-12 hex id: ids minted elsewhere (imports, the reference's examples) need not be RFC 4122 v4.
// Both cases spelled out, no /i flag: the OpenAPI document copies the pattern's source, not its flags.
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
export const zUuid = () => z.string({ error: "must be a UUID" }).trim().toLowerCase().regex(UUID_RE, "must be a UUID");

/** A calendar date YYYY-MM-DD that exists. */
export const zDate = () =>
  z
    .string({ error: "must be a date (YYYY-MM-DD)" })
    .trim()
    .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date (YYYY-MM-DD)")
    .refine((s) => {
      const d = new Date(`${s}T00:00:00Z`);
      return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s);
    }, "is not a real date");

/**
 * C0 control characters but tab, LF and CR, and DEL: never part of stored text (a NUL cuts text
 * short in C tools, ESC drives terminals reading logs or exports). The API refuses them in a note
 * (`noControlChars`); text that must not be lost (a mail reply), and what the sanitiser decodes from
 * character references (`&#1;`), has them removed (`stripControlChars`).
 */
const CONTROL_CLASS = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]";
const CONTROL_CHAR = new RegExp(CONTROL_CLASS);
const CONTROL_CHARS = new RegExp(CONTROL_CLASS, "g");
export const CONTROL_CHARS_MESSAGE = "must not contain control characters (tab and line breaks are fine)";
export const noControlChars = (s: string) => !CONTROL_CHAR.test(s);
export const stripControlChars = (s: string) => s.replace(CONTROL_CHARS, "");

/** Non-empty trimmed text with a maximum length. */
export const zText = (max: number) =>
  z.string({ error: "must be text" }).trim().min(1, "must not be empty").max(max, `must be at most ${max} characters`);

/** Optional text that may be cleared: "" (or null) → null. */
export const zNullableText = (max: number) =>
  z.preprocess(
    (v) => (v === "" ? null : v),
    z.string({ error: "must be text" }).trim().max(max, `must be at most ${max} characters`).nullable(),
  );

export const zPagination = {
  limit: z
    .preprocess(
      fromText(INT_RE),
      z.number({ error: "must be an integer" }).int("must be an integer").min(1, "must be at least 1").max(200, "must be at most 200"),
    )
    .default(50),
  offset: z
    .preprocess(fromText(INT_RE), z.number({ error: "must be an integer" }).int("must be an integer").min(0, "must not be negative"))
    .default(0),
};
