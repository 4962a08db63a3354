/**
 * How `npm test` (scripts/test.ts) reads a node --test step's output into its summary line: the
 * closing counts, cancelled tests (a file that timed out, a process that died) counted as failed,
 * every skipped or todo test named with its reason, and a step killed before its closing counts
 * reported from the test lines it printed, never as a silent gap.
 */
export interface NodeTestCounts {
  pass: number;
  /** Failed plus cancelled: what the run counts as failed. */
  failed: number;
  cancelled: number;
  /** "name: reason" of each skipped or todo test. */
  skipped: string[];
  /** The summary line (✔/✘, counts, what was skipped and why). */
  line: string;
}

/** TAP test lines: `ok 3 - name # SKIP reason`, `not ok 4 - name`, indented for subtests. */
const TEST_LINE = /^(\s*)(not ok|ok) \d+ - (.*?)(?: # (SKIP|TODO)\b ?(.*))?$/gm;

export function nodeTestCounts(name: string, stdout: string, stepOk: boolean): NodeTestCounts {
  const total = (key: string) => {
    const m = new RegExp(`^# ${key} (\\d+)`, "m").exec(stdout);
    return m ? Number(m[1]) : undefined;
  };
  const skipped: string[] = [];
  let linesPassed = 0;
  let linesFailed = 0;
  for (const m of stdout.matchAll(TEST_LINE)) {
    const [, , status, title = "", directive, reason] = m;
    if (directive) skipped.push(`${title}: ${reason?.trim() || (directive === "TODO" ? "todo" : "skipped, no reason given")}`);
    else if (status === "ok") linesPassed++;
    else linesFailed++;
  }
  const closed = total("pass") !== undefined;
  const pass = total("pass") ?? 0;
  const cancelled = total("cancelled") ?? 0;
  const fail = total("fail") ?? 0;
  let failed = fail + cancelled;
  const skippedTotal = (total("skipped") ?? 0) + (total("todo") ?? 0);
  if (skippedTotal > skipped.length) skipped.push(`${skippedTotal - skipped.length} more, not named in the output`);
  let line: string;
  if (!closed && linesPassed + linesFailed > 0) {
    // Killed (or crashed) before the closing counts: what it printed is all there is; the rest is lost.
    failed = linesFailed + 1;
    line = `✘ ${name}: ended before its closing counts (the step itself failed: see its log); its test lines so far: ${linesPassed} passed, ${linesFailed} failed (they include suites), counted as ${failed} failed`;
    return { pass: 0, failed, cancelled, skipped, line: withSkipped(line, skipped) };
  }
  if (!stepOk && failed === 0) failed = 1;
  line =
    `${stepOk && failed === 0 ? "✔" : "✘"} ${name}: ${pass} passed, ${fail} failed` +
    (cancelled ? `, ${cancelled} cancelled (counted as failed)` : "") +
    (!stepOk && fail + cancelled === 0 ? " (the step itself failed: see its log)" : "");
  return { pass, failed, cancelled, skipped, line: withSkipped(line, skipped) };
}

function withSkipped(line: string, skipped: string[]): string {
  if (skipped.length === 0) return line;
  return `${line}, ${skipped.length} skipped:\n${skipped.map((s) => `    - ${s}`).join("\n")}`;
}
