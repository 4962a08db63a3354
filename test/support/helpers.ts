import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import type { Role } from "../../src/auth/permissions";
import { generateToken, hashToken } from "../../src/auth/tokens";
import { errorResponses } from "../../src/http/openapi-shapes";
import worker from "../../src/index";
import { operations } from "../../src/routes";

const BASE = "https://propops.test";

export interface TestUser {
  token: string;
  tokenId: number;
  userId: number;
  userUuid: string;
  role: Role;
  contractorId: number | null;
}

let seq = 0;

/** A user with a fresh API token (optionally narrowed, expired or revoked). */
export async function makeUser(
  role: Role,
  opts: {
    contractorId?: number | null;
    agentId?: number | null;
    permissions?: string[];
    expiresAt?: string;
    revokedAt?: string;
    name?: string;
  } = {},
): Promise<TestUser> {
  const userUuid = crypto.randomUUID();
  const n = ++seq;
  const name = opts.name ?? `${role[0]?.toUpperCase()}${role.slice(1)}_${String(n).padStart(3, "0")}`;
  const user = await env.DB.prepare(
    "INSERT INTO users (uuid, name, email, role, contractor_id, agent_id) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
  )
    .bind(userUuid, name, `${role}-${n}-${userUuid.slice(0, 8)}@example.test`, role, opts.contractorId ?? null, opts.agentId ?? null)
    .first<{ id: number }>();
  const token = generateToken(userUuid);
  const row = await env.DB.prepare(
    "INSERT INTO api_tokens (uuid, user_id, name, token_hash, permissions, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
  )
    .bind(
      crypto.randomUUID(),
      user?.id,
      "test",
      await hashToken(token),
      opts.permissions ? JSON.stringify(opts.permissions) : null,
      opts.expiresAt ?? null,
      opts.revokedAt ?? null,
    )
    .first<{ id: number }>();
  return { token, tokenId: row?.id ?? 0, userId: user?.id ?? 0, userUuid, role, contractorId: opts.contractorId ?? null };
}

export interface Fixtures {
  addressId: number;
  otherAddressId: number;
  agentId: number;
  contractorId: number;
  otherContractorId: number;
  tenantIds: number[];
}

/** Addresses, an agent, two contractors and tenants: what jobs point at. */
export async function seedFixtures(): Promise<Fixtures> {
  const db = env.DB;
  const id = async (sql: string, ...args: unknown[]) =>
    (
      await db
        .prepare(`${sql} RETURNING id`)
        .bind(...args)
        .first<{ id: number }>()
    )?.id ?? 0;
  const addressId = await id(
    "INSERT INTO addresses (line1, line2, town, postcode, search_text) VALUES (?, NULL, ?, ?, ?)",
    "1 Example Street",
    "Sample Town",
    "EX1 1AA",
    "1 example street sample town ex1 1aa",
  );
  const otherAddressId = await id(
    "INSERT INTO addresses (line1, line2, town, postcode, search_text) VALUES (?, ?, ?, ?, ?)",
    "22 Harbour Road",
    "Flat 3",
    "Portside",
    "PO2 9ZZ",
    "22 harbour road flat 3 portside po2 9zz",
  );
  const agentId = await id(
    "INSERT INTO agents (uuid, name, email) VALUES (?, ?, ?)",
    crypto.randomUUID(),
    "Agent_001",
    "agent1@example.test",
  );
  const contractorId = await id(
    "INSERT INTO contractors (uuid, name, email) VALUES (?, ?, ?)",
    crypto.randomUUID(),
    "Contractor_001",
    "contractor1@example.test",
  );
  const otherContractorId = await id(
    "INSERT INTO contractors (uuid, name, email) VALUES (?, ?, ?)",
    crypto.randomUUID(),
    "Contractor_002",
    "contractor2@example.test",
  );
  const tenantIds = [
    // Tenants of the first address: a job there may name them (src/domain/job-fields.ts).
    await id("INSERT INTO tenants (uuid, name, address_id) VALUES (?, ?, ?)", crypto.randomUUID(), "Tenant One", addressId),
    await id("INSERT INTO tenants (uuid, name, address_id) VALUES (?, ?, ?)", crypto.randomUUID(), "Tenant Two", addressId),
  ];
  return { addressId, otherAddressId, agentId, contractorId, otherContractorId, tenantIds };
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON and assert on it
  body: any;
}

type BodyKind = "json" | "form" | "multipart";

/** Calls the Worker through its own fetch, as a client would. */
export async function api(
  method: string,
  path: string,
  opts: {
    token?: string;
    body?: Record<string, unknown> | FormData;
    as?: BodyKind;
    csrf?: string;
    headers?: Record<string, string>;
    /** Another Env for this request (test/support/fault-env.ts): the Worker's fetch is called with it directly. */
    env?: Env;
  } = {},
): Promise<ApiResponse> {
  const headers = new Headers(opts.headers);
  if (opts.token) headers.set("Authorization", `Bearer ${opts.token}`);
  if (opts.csrf) headers.set("X-CSRF-Token", opts.csrf);
  let body: BodyInit | undefined;
  if (opts.body instanceof FormData) body = opts.body;
  else if (opts.body) {
    const kind = opts.as ?? "json";
    if (kind === "json") {
      headers.set("Content-Type", "application/json");
      body = JSON.stringify(opts.body);
    } else if (kind === "form") {
      headers.set("Content-Type", "application/x-www-form-urlencoded");
      const p = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.body)) {
        if (Array.isArray(v)) for (const x of v) p.append(`${k}[]`, String(x));
        else if (v !== undefined) p.append(k, String(v));
      }
      body = p.toString();
    } else {
      const f = new FormData();
      for (const [k, v] of Object.entries(opts.body)) {
        if (Array.isArray(v)) for (const x of v) f.append(`${k}[]`, String(x));
        else if (v instanceof Blob) f.append(k, v);
        else if (v !== undefined) f.append(k, String(v));
      }
      body = f;
    }
  }
  const request = new Request(`${BASE}${path}`, { method, headers, body });
  const res = opts.env ? await fetchWith(opts.env, request) : await exports.default.fetch(request);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  checkAgainstSchema(method, path, res, parsed);
  return { status: res.status, headers: res.headers, body: parsed };
}

/** The Worker's own fetch under another Env, its background work (waitUntil) awaited. */
export async function fetchWith(other: Env, request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, other, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

type ResponseSpec = { content?: Record<string, { schema?: { safeParse?: (v: unknown) => { success: boolean; error?: unknown } } }> };

/**
 * Every JSON answer of a documented operation must match the schema its route declares for that
 * status (success schemas on the route, error schemas shared by all): a handler whose answer drifts
 * from its OpenAPI description fails whichever test made the call.
 */
function checkAgainstSchema(method: string, path: string, res: Response, body: unknown) {
  if (!res.headers.get("content-type")?.includes("application/json")) return;
  const pathname = new URL(path, BASE).pathname;
  const op = operations.find((o) => o.method === method.toLowerCase() && o.path === pathname);
  if (!op) return; // not an operation of the reference (/, /docs, internal media routes)
  const declared = { ...errorResponses, ...op.responses } as Record<number, ResponseSpec | undefined>;
  const spec = declared[res.status];
  expect(
    spec,
    `${method} ${pathname} answered ${res.status}, a status its OpenAPI description does not declare: ${JSON.stringify(body)}`,
  ).toBeDefined();
  const schema = spec?.content?.["application/json"]?.schema;
  if (!schema?.safeParse) return;
  const check = schema.safeParse(body);
  expect(
    check.success,
    `${method} ${pathname} ${res.status} does not match its declared schema: ${JSON.stringify(check.error)}\n${JSON.stringify(body)}`,
  ).toBe(true);
}

/** Asserts a status, printing the body when it differs. */
export function expectStatus(res: ApiResponse, status: number) {
  expect(res.status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`).toBe(status);
}

export async function csrfFor(token: string): Promise<string> {
  const res = await api("GET", "/api/security/csrf-token", { token });
  expectStatus(res, 200);
  return res.body.csrf_token;
}

/** A user with its CSRF token, ready for writes. */
export async function actor(role: Role, opts: Parameters<typeof makeUser>[1] = {}) {
  const user = await makeUser(role, opts);
  return { ...user, csrf: await csrfFor(user.token) };
}

export type Actor = Awaited<ReturnType<typeof actor>>;

export async function createJob(who: Actor, fx: Fixtures, fields: Record<string, unknown> = {}) {
  const res = await api("POST", "/api/jobs/manage", {
    token: who.token,
    csrf: who.csrf,
    body: {
      action: "create",
      job_title: "Boiler Service - Unit 001",
      job_description: "Annual boiler service required for property unit 001.",
      priority_id: 2,
      status_id: 1,
      job_type_id: 3,
      address_id: fx.addressId,
      contractor_id: fx.contractorId,
      ...fields,
    },
  });
  expectStatus(res, 201);
  return res.body as { job_id: number; job_uuid: string; job_ref: string };
}

export async function getJob(who: { token: string }, uuid: string) {
  const res = await api("GET", `/api/jobs/manage?action=get&uuid=${uuid}`, { token: who.token });
  expectStatus(res, 200);
  return res.body.data;
}
