import { describe, expect, it } from "vitest";
import readme from "../../README.md?raw";
import { CHANNELS, STATUS_NAMES, TRANSITIONS } from "../../src/domain/lifecycle";

// The README's lifecycle table is the lifecycle (src/domain/lifecycle.ts), row for row: a change to
// either without the other fails here.

const who = (roles: readonly string[]) => roles.map((r) => (r === "contractor" ? "the assigned contractor" : r)).join(", ");
const list = (xs: readonly string[]) => (xs.length ? xs.map((x) => `\`${x}\``).join(", ") : "—");

function lifecycleRows(): string[] {
  return TRANSITIONS.map(
    (t) =>
      `| ${t.from === null ? "(new job)" : STATUS_NAMES[t.from]} | ${STATUS_NAMES[t.to]} | \`${CHANNELS[t.via]}\` | ${who(t.roles)} | ${list(t.requires)} | ${list(t.effects)} |`,
  );
}

describe("README: the job lifecycle", () => {
  it("lists every transition of the table, and nothing else", () => {
    const section = readme.split("### The job lifecycle")[1]?.split(/\n#/)[0] ?? "";
    const rows = section.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| from") && !l.startsWith("| ---"));
    expect(rows).toEqual(lifecycleRows());
  });
});
