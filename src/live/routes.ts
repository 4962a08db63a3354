import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { hashToken } from "../auth/tokens";
import { ApiError } from "../domain/errors";
import { done } from "../http/envelope";
import { documented } from "../http/openapi-examples";
import { ex, JOB_UUID, OK } from "../http/openapi-samples";
import { type AppEnv, jsonResponse, operation, toFieldErrors } from "../http/operation";
import { LIVE_BEARER_HASH, liveHub, TICKET_TTL_SECONDS } from "./hub";
import { issueLiveTicket, pollLiveEvents } from "./service";

const TAG = "Live";

/** One event of the stream, as the WebSocket sends it and the poll answers it. */
export const LiveEventSchema = z
  .object({
    kind: z.literal("event"),
    id: z.number().int().openapi({ description: "Increasing; resume after the last one seen" }),
    type: z.string().openapi({ example: "job.updated", description: "A webhook event type (the `webhooks` section)" }),
    job_uuid: z.string().nullable(),
    at: z.string().openapi({ description: "When it happened (ISO-8601 UTC)" }),
    data: z
      .record(z.string(), z.unknown())
      .openapi({ description: "The payload the webhook of this event carries: private values only as {changed: true}" }),
  })
  .openapi("LiveEvent");

const SAMPLE_EVENT = {
  kind: "event",
  id: 4812,
  type: "note.added",
  job_uuid: JOB_UUID,
  at: "2026-12-03T09:15:02Z",
  data: {
    job_uuid: JOB_UUID,
    job_ref: "JOB-007",
    action: "case_note.created",
    actor: { user_id: 3, name: "Alice Manager" },
    note_uuid: "550e8400-e29b-41d4-a716-446655440050",
    parent_uuid: null,
    source: "api",
    changes: { message: { changed: true } },
  },
};

const WHO_SEES =
  "Contractors receive only the events of their jobs (the job's contractor before or after the event); nobody receives " +
  "private values (access details, private contact, note text: `{changed: true}`).";

export const postLive = operation({
  method: "post",
  path: "/api/live",
  operationId: "createLiveTicket",
  docs: {
    responses: {
      200: {
        ticket: ex("A ticket for GET /api/live", {
          success: true,
          ticket: "kq3L0V8u2m1Z0x5wG6b7Yc8d9e0f1g2h3i4j5k6l7m8",
          expires_at: "2026-12-03T09:16:02Z",
          after: 4812,
          message: "Live ticket issued",
        }),
      },
    },
    notFound: false,
  },
  summary: "A ticket to open the live event stream",
  description:
    `A browser cannot send a bearer token with a WebSocket, and a token never goes in a URL: POST here (bearer token and CSRF ` +
    `token) for a single-use ticket that lasts ${TICKET_TTL_SECONDS} s and is bound to this token, then open ` +
    "`GET /api/live?ticket=…` (add `&after=` the `after` answered here, or the last event id you saw, to miss nothing " +
    `between). ${WHO_SEES}`,
  tag: TAG,
  permission: issueLiveTicket.admission.permission,
  responses: {
    200: jsonResponse(
      "A single-use ticket",
      z.object({
        success: z.literal(true),
        ticket: z.string(),
        expires_at: z.string(),
        after: z.number().int().openapi({ description: "The newest event id now" }),
        message: z.string(),
      }),
    ),
  },
  handler: async (c) => done(c, "Live ticket issued", await issueLiveTicket(c.var.ctx, undefined)),
});

const afterId = z.coerce
  .number()
  .int()
  .min(0)
  .max(Number.MAX_SAFE_INTEGER)
  .openapi({ description: "The last event id seen: events after it are answered (oldest first)", example: 4800 });

export const getLiveEvents = operation({
  method: "get",
  path: "/api/live/events",
  operationId: "pollLiveEvents",
  docs: {
    query: { after: 4800, limit: 100 },
    responses: {
      200: { events: ex("Events after 4800", { success: true, events: [SAMPLE_EVENT], next_after: 4812, reset: false, message: OK }) },
    },
    notFound: false,
  },
  summary: "Poll the live event stream",
  description:
    "The stream GET /api/live sends, for clients without WebSockets: the events after `after` this caller may see, oldest " +
    "first, and `next_after`, the `after` of the next poll (no gap, no duplicate). `reset: true` when the server no longer " +
    `holds every event after \`after\`: reload what you show. ${WHO_SEES}`,
  tag: TAG,
  permission: pollLiveEvents.admission.permission,
  query: z.strictObject({
    after: afterId,
    limit: z.coerce.number().int().min(1).max(500).default(100).openapi({ description: "At most this many events (1–500)" }),
  }),
  responses: {
    200: jsonResponse(
      "Events after `after`",
      z.object({
        success: z.literal(true),
        events: z.array(LiveEventSchema),
        next_after: z.number().int(),
        reset: z.boolean(),
        message: z.string(),
      }),
    ),
  },
  handler: async (c, { query }) => done(c, OK, await pollLiveEvents(c.var.ctx, query)),
});

const ticketQuery = z.strictObject({
  ticket: z.string().min(1).max(200).openapi({ description: "From POST /api/live: single use, 60 s" }),
  after: afterId.optional(),
});

/** GET /api/live in the OpenAPI document: a WebSocket upgrade, so not an operation() (no bearer token). */
const liveSocketRoute = createRoute({
  method: "get",
  path: "/api/live",
  operationId: "openLiveStream",
  summary: "The live event stream (WebSocket)",
  description:
    "Upgrade to a WebSocket with a ticket from POST /api/live (`Upgrade: websocket`). With `after`, every event after it " +
    "this caller may see is sent first, then events as they happen, each within a second: " +
    '`{"kind":"event","id":4812,"type":"note.added","job_uuid":"…","at":"…","data":{…}}` (the LiveEvent schema; ids ' +
    'increase). `{"kind":"presence","job_uuid":"…","viewers":[{"user_id":1,"name":"Alice"}]}` says who is viewing a job ' +
    'the client may see. `{"kind":"reset","after":N}`: the server no longer holds every event after `after`; reload. ' +
    'The client sends `{"kind":"viewing","job_uuid":"…"}` (or `null`) when it opens or leaves a job, and may send ' +
    `\`{"kind":"ping"}\` (answered \`{"kind":"pong"}\`). ${WHO_SEES} A bearer token, if sent, must be the ticket's.`,
  tags: [TAG],
  security: [],
  request: { query: ticketQuery },
  responses: {
    101: { description: "Switching to the WebSocket protocol: the stream begins" },
  },
});

/** Mounts GET /api/live: checks the upgrade and the query, then hands the request to the hub. */
export function mountLiveSocket(app: OpenAPIHono<AppEnv>) {
  app.openAPIRegistry.registerPath(
    documented(liveSocketRoute, {
      docs: { responses: {}, notFound: false, query: { ticket: "kq3L0V8u2m1Z0x5wG6b7Yc8d9e0f1g2h3i4j5k6l7m8", after: 4812 } },
      mutating: false,
    }),
  );
  app.get("/api/live", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new ApiError("BAD_REQUEST", "GET /api/live is a WebSocket: send Upgrade: websocket (or poll GET /api/live/events)");
    }
    const parsed = ticketQuery.safeParse(c.req.query());
    if (!parsed.success) {
      throw new ApiError("BAD_REQUEST", "Invalid query", toFieldErrors(parsed.error.issues));
    }
    const url = new URL("https://live.internal/connect");
    url.searchParams.set("ticket", parsed.data.ticket);
    if (parsed.data.after !== undefined) url.searchParams.set("after", String(parsed.data.after));
    const headers = new Headers({ Upgrade: "websocket" });
    const bearer = /^\s*Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (bearer) headers.set(LIVE_BEARER_HASH, await hashToken(bearer));
    const res = await liveHub(c.env).fetch(url, { headers });
    if (res.status === 101) return res;
    const refused = (await res.json()) as { code: "UNAUTHORIZED" | "FORBIDDEN"; message: string };
    throw new ApiError(refused.code, refused.message);
  });
}
