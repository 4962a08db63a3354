/**
 * Each isolate's copy of users' pins, so a job list or single read needs no call to the user's
 * UserPins Durable Object while nothing changed. The object counts its changes (its version); each
 * toggle copies the new version into `users.pins_version` after changing the object, and a read
 * gets that column with its token check (same D1 batch). A copy is used only when its version is
 * the one D1 holds, so a toggle through any isolate invalidates every other isolate's copy at its
 * next read. Copies are kept from the object's own snapshot (pins and version read together), never
 * built from D1's number, so old pins are never stored under a newer version. If copying the
 * version to D1 failed, a copy could be one toggle behind: it lives at most TTL_MS.
 */
const TTL_MS = 60_000;
/** Users kept per isolate (least recently stored goes first). */
const MAX_USERS = 1_000;

export interface PinsSnapshot {
  pins: string[];
  version: number;
}

const copies = new Map<string, PinsSnapshot & { at: number }>();

/** The isolate's copy of a user's pins, if it is young enough to be checked against D1's version. */
export function cachedPins(userUuid: string): (PinsSnapshot & { at: number }) | undefined {
  const copy = copies.get(userUuid);
  if (!copy) return undefined;
  if (Date.now() - copy.at > TTL_MS) {
    copies.delete(userUuid);
    return undefined;
  }
  return copy;
}

/** Keeps a snapshot the Durable Object answered. */
export function rememberPins(userUuid: string, snapshot: PinsSnapshot): void {
  copies.delete(userUuid);
  copies.set(userUuid, { pins: snapshot.pins, version: snapshot.version, at: Date.now() });
  if (copies.size > MAX_USERS) {
    const oldest = copies.keys().next().value;
    if (oldest !== undefined) copies.delete(oldest);
  }
}

/** Drops the isolate's copy (this isolate changed the pins). */
export function forgetCachedPins(userUuid: string): void {
  copies.delete(userUuid);
}
