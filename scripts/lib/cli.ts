/**
 * Arguments of a script: `--help` (or `-h`) prints its usage and exits 0; an unknown or malformed
 * option prints what is wrong and the usage, and exits 2 — never a stack trace.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";

export function cliArgs<T extends ParseArgsConfig["options"]>(usage: string, options: T, opts: { positionals?: boolean } = {}) {
  const args = process.argv.slice(2).filter((a) => a !== "--");
  if (args.includes("--help") || args.includes("-h")) {
    console.log(usage.trim());
    process.exit(0);
  }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: opts.positionals ?? false });
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${usage.trim()}`);
    process.exit(2);
  }
}

/** Stops with a message and the usage (exit 2). */
export function usageError(message: string, usage: string): never {
  console.error(`${message}\n\n${usage.trim()}`);
  process.exit(2);
}
