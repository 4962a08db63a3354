/**
 * The API's answers this dashboard reads, derived from the Worker's route schemas through
 * hono/client (`AppType`, a type-only import: no Worker code reaches the bundle).
 */
import type { ClientRequestOptions, hc, InferResponseType } from "hono/client";
import type { AppType } from "../../src/app";

type Client = ReturnType<typeof hc<AppType>>["api"];
type Jobs = Client["jobs"];
type Endpoint = (args: never, options?: ClientRequestOptions) => Promise<unknown>;
/** A route's 2xx JSON answer (not the file a download action streams). */
type Ok<E extends Endpoint> = Exclude<InferResponseType<E, 200 | 201>, string | Response>;
/** The records of a list answer (`data: T[]`). */
type Row<E extends Endpoint> = Extract<Ok<E>, { data: unknown[] }>["data"][number];

export type JobList = Extract<Ok<Jobs["manage"]["$get"]>, { count: number }>;
export type Job = JobList["data"][number];
export type JobOne = Exclude<Ok<Jobs["manage"]["$get"]>, { count: number }>;
export type JobDetail = JobOne["data"];
export type SlaState = Job["sla_state"];
export type Sla = Ok<Jobs["sla-status"]["$get"]>["data"];

export type Status = Row<Jobs["statuses"]["$get"]>;

/** The reference's error envelope (every route declares the same one). */
export type ErrorBody = InferResponseType<Jobs["manage"]["$get"], 400>;
export type CsrfToken = Ok<Client["security"]["csrf-token"]["$get"]>;

export type Note = Row<Jobs["case-notes"]["$get"]>;
export type NoteCreated = Extract<Ok<Jobs["case-notes"]["$post"]>, { email_status: unknown }>;
export type PhotoGroups = Ok<Jobs["photos"]["$get"]>;
export type PhotoType = keyof PhotoGroups["data"];
export type Photo = PhotoGroups["data"][PhotoType][number];
export const PHOTO_TYPES: PhotoType[] = ["before", "during", "after", "other"];

export type Amendable = Ok<Jobs["amendable-fields"]["$get"]>["data"];

/** A write's 2xx answer, by path and method (the envelope and the fields the API adds). */
export type Answer<P extends keyof Jobs, M extends keyof Jobs[P]> = Jobs[P][M] extends Endpoint ? Ok<Jobs[P][M]> : never;
/** A read's 2xx answer, by path. */
export type Read<P extends keyof Jobs> = Jobs[P] extends { $get: Endpoint } ? Ok<Jobs[P]["$get"]> : never;
