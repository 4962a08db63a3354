/**
 * Infrastructure is reached only through src/platform/services.ts (issue 19): fails when a file in
 * src reads the R2 bucket, the media queue or the mail binding from `env` (`env.MEDIA`,
 * `env.MEDIA_QUEUE`, `env.EMAIL`), or reads the clock with `new Date()`, anywhere else. Comment
 * lines are skipped. The import rules (no circles, a pure src/domain) are dependency-cruiser's
 * (.dependency-cruiser.cjs); `npm run check:layers` runs both.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cliArgs } from "./lib/cli.ts";

const USAGE = `
npm run check:layers [-- --root <dir>]

Lists every use of env.MEDIA, env.MEDIA_QUEUE, env.EMAIL (also env["…"]) and every clock read
(new Date() without an argument) in the TypeScript files under <dir> (default src) outside
src/platform/services.ts, by file and line, and exits 1 if there is one. Bindings that merely start
with those names (env.MEDIA_CONTAINER, env.EMAIL_FROM) are not matched. new Date(value) parses or
formats a given time and is allowed. The clock's own implementation (src/domain/time.ts, which
services.ts hands out as services.clock) may read the clock.
`;

const { values } = cliArgs(USAGE, { root: { type: "string", default: "src" } });
const root = values.root ?? "src";

/** The services module: the one place that may touch these bindings and the clock. */
const SERVICES = "src/platform/services.ts";
/** The system clock behind services.clock. */
const CLOCK = "src/domain/time.ts";

const RULES: { name: string; pattern: RegExp; allowed: readonly string[] }[] = [
  {
    name: "binding outside the services module (use services.media, services.mediaQueue, services.mailer)",
    // Word-boundary aware: env.MEDIA must not match env.MEDIA_CONTAINER or env.MEDIA_QUEUE_X.
    pattern: /\benv\s*(?:\.\s*(?:MEDIA_QUEUE|MEDIA|EMAIL)\b|\[\s*["'`](?:MEDIA_QUEUE|MEDIA|EMAIL)["'`]\s*\])/,
    allowed: [SERVICES],
  },
  {
    name: "clock read outside the services module (use services.clock)",
    pattern: /\bnew\s+Date\s*\(\s*\)/,
    allowed: [SERVICES, CLOCK],
  },
];

function* tsFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(path);
    else if (/\.(ts|tsx|mts)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) yield path;
  }
}

const isComment = (line: string) => /^\s*(\/\/|\/\*|\*)/.test(line);

const found = new Map<string, string[]>();
for (const file of tsFiles(root)) {
  const path = file.split("\\").join("/");
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (isComment(line)) return;
      for (const rule of RULES) {
        if (rule.allowed.includes(path) || !rule.pattern.test(line)) continue;
        const list = found.get(path) ?? [];
        list.push(`  ${path}:${i + 1}: ${rule.name}\n      ${line.trim()}`);
        found.set(path, list);
      }
    });
}

if (found.size === 0) {
  console.log(`✔ no env.MEDIA / env.MEDIA_QUEUE / env.EMAIL / new Date() in ${root} outside ${SERVICES}`);
  process.exit(0);
}
const total = [...found.values()].reduce((n, l) => n + l.length, 0);
console.log(`✘ ${total} use(s) in ${found.size} file(s) outside ${SERVICES}:`);
for (const lines of found.values()) console.log(lines.join("\n"));
process.exit(1);
