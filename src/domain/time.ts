/** ISO-8601 UTC without milliseconds: the format every timestamp column holds, so text order is time order. */
export const toIsoSeconds = (d: Date | number) => new Date(d).toISOString().replace(/\.\d{3}Z$/, "Z");

export const nowIso = () => toIsoSeconds(Date.now());

/** The time source of a request, queue batch, inbound mail or cron run (tests may fix it). */
export interface Clock {
  now(): Date;
  iso(): string;
}

export const systemClock: Clock = { now: () => new Date(), iso: nowIso };

export const fixedClock = (at: Date): Clock => ({ now: () => new Date(at), iso: () => toIsoSeconds(at) });
