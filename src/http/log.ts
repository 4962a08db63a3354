import { systemClock } from "../domain/time";

/**
 * Structured logs: one JSON object per line, so Workers Logs (observability) indexes the fields.
 * Never field values of requests or records: methods, paths, statuses, ids and error messages.
 */
type Level = "info" | "warn" | "error";

export function log(level: Level, event: string, fields: Record<string, unknown> = {}) {
  // The system clock (millisecond log times): log lines are written where no services exist.
  const line = JSON.stringify({ level, event, time: systemClock.now().toISOString(), ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/** An incoming X-Request-Id is kept when it is a plain token (1-128 of A-Z a-z 0-9 . _ -); else a new UUID. */
const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
export function requestIdFrom(header: string | undefined): string {
  return header && REQUEST_ID.test(header) ? header : crypto.randomUUID();
}

export function errorFields(err: unknown) {
  return err instanceof Error ? { error: err.name, message: err.message, stack: err.stack } : { error: String(err) };
}
