import { eq, type SQL } from "drizzle-orm";
import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { effectivePermissions, type Permission } from "../auth/permissions";
import { noteTokenUse } from "../auth/token-use";
import { claimedUserUuid, hashToken } from "../auth/tokens";
import type { FieldCipher } from "../crypto/fields";
import * as schema from "../db/schema";
import { aliased } from "../db/select";
import type { MeteredD1 } from "../db/session";
import type { Principal } from "../domain/caller";
import { ApiError } from "../domain/errors";
import { jobVisibleTo, jobVisibleToToken } from "../domain/job-access";
import { can } from "../domain/policy";
import { nowIso } from "../domain/time";
import { cachedPins, type PinsSnapshot, rememberPins } from "../pins/pins-cache";
import { userPins } from "../pins/user-pins";
import { createServices, type Db, type Services } from "../platform/services";

type Batch = Readonly<[BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]>;

type AuthRow = Awaited<ReturnType<RequestContext["authQuery"]>>[number];

/**
 * One API request: its services (built once, `src/platform/services.ts`) and its caller. The token
 * check rides in the request's first D1 batch (`read`), so a read costs one round trip and a
 * change two (its read, then its write batch). For a write, what must pass before the handler may
 * use the caller (rate limit, CSRF, the route's policy) is handed over as admission checks
 * (`admitWith`), which run as soon as the token is resolved, by whichever call resolves it.
 */
export class RequestContext {
  readonly services: Services;
  readonly db: Db;
  readonly requestId: string;
  private resolved: Principal | undefined;
  /** users.pins_version, read with the token check (src/pins/pins-cache.ts). */
  private pinsVersion: number | undefined;
  /** Why the caller was not admitted: every later use of the caller fails with it. */
  private refused: unknown;
  /** Set once the caller holds the operation's permission: nothing is answered before. */
  authorized = false;
  permission: Permission | undefined;
  /**
   * Runs as soon as the token authenticates, before the permission check and the admission checks:
   * the per-token rate limit (operation.ts), so every authenticated request counts, whatever it answers.
   */
  onAuthenticated: ((caller: Principal) => Promise<void>) | undefined;

  constructor(
    readonly env: Env,
    readonly executionCtx: ExecutionContext | undefined,
    private readonly bearer: string | undefined,
    requestId: string = crypto.randomUUID(),
    /** The request's D1 session (read replication, usage counts); the plain binding when absent. */
    readonly d1?: MeteredD1,
  ) {
    this.requestId = requestId;
    this.services = createServices(env, { executionCtx, d1 });
    this.db = this.services.db;
  }

  get hasCredentials() {
    return this.bearer !== undefined;
  }

  cipher(): Promise<FieldCipher> {
    return this.services.cipher();
  }

  private tokenHashPromise: Promise<string> | undefined;
  tokenHash(): Promise<string> {
    if (this.bearer === undefined) throw new ApiError("UNAUTHORIZED", "Missing bearer token: send Authorization: Bearer <token>");
    this.tokenHashPromise ??= hashToken(this.bearer);
    return this.tokenHashPromise;
  }

  private authQuery(hash: string) {
    return this.db
      .select(
        aliased({
          tokenId: schema.apiTokens.id,
          expiresAt: schema.apiTokens.expiresAt,
          revokedAt: schema.apiTokens.revokedAt,
          lastUsedAt: schema.apiTokens.lastUsedAt,
          narrowed: schema.apiTokens.permissions,
          userId: schema.users.id,
          userUuid: schema.users.uuid,
          name: schema.users.name,
          email: schema.users.email,
          role: schema.users.role,
          contractorId: schema.users.contractorId,
          agentId: schema.users.agentId,
          disabledAt: schema.users.disabledAt,
          pinsVersion: schema.users.pinsVersion,
        }),
      )
      .from(schema.apiTokens)
      .innerJoin(schema.users, eq(schema.users.id, schema.apiTokens.userId))
      .where(eq(schema.apiTokens.tokenHash, hash))
      .limit(1);
  }

  private accept(rows: AuthRow[]): Principal {
    const row = rows[0];
    if (!row) throw new ApiError("UNAUTHORIZED", "Invalid bearer token");
    if (row.revokedAt) throw new ApiError("UNAUTHORIZED", "Bearer token has been revoked");
    if (row.expiresAt && row.expiresAt <= nowIso()) throw new ApiError("UNAUTHORIZED", "Bearer token has expired");
    if (row.disabledAt) throw new ApiError("UNAUTHORIZED", "User account is disabled");
    this.pinsVersion = row.pinsVersion;
    noteTokenUse(this.services, row.tokenId, row.lastUsedAt);
    // Resolved but not yet admitted: every use of the caller awaits `admitted` (see admit).
    this.resolved = {
      tokenId: row.tokenId,
      userId: row.userId,
      userUuid: row.userUuid,
      name: row.name,
      email: row.email,
      role: row.role,
      contractorId: row.contractorId,
      agentId: row.agentId,
      permissions: effectivePermissions(row.role, row.narrowed),
    };
    return this.resolved;
  }

  private authorize(caller: Principal) {
    if (this.permission && !can(caller, this.permission)) throw new ApiError("FORBIDDEN", `Missing permission: ${this.permission}`);
    this.authorized = true;
  }

  /**
   * A check the caller must pass before it is handed out (a write's CSRF, a route's policy), after
   * the rate limit and the permission. Checks added before the token is resolved run when the first batch answers; once
   * resolved, at once.
   */
  async admitWith(check: (caller: Principal) => unknown) {
    if (this.refused) throw this.refused;
    if (this.resolved) {
      await this.admitted;
      await check(this.resolved);
    } else this.admissions.push(check);
  }
  private admissions: ((caller: Principal) => unknown)[] = [];

  /** Accepts the token row, then runs admission once (concurrent callers share it). */
  private async admit(rows: AuthRow[]): Promise<Principal> {
    let caller: Principal;
    try {
      caller = this.accept(rows);
    } catch (err) {
      this.refused = err; // a 401 is final: no second lookup for the same request
      throw err;
    }
    // Set in the same tick as `resolved`: no use of the caller can slip in before admission.
    this.admitted ??= this.runAdmission(caller);
    await this.admitted;
    return caller;
  }

  private admitted: Promise<void> | undefined;
  /** Counted (onAuthenticated), then the permission, then the admission checks, in that order. */
  private async runAdmission(caller: Principal) {
    try {
      await this.onAuthenticated?.(caller);
      this.authorize(caller);
      const checks = this.admissions;
      this.admissions = [];
      for (const check of checks) await check(caller);
    } catch (err) {
      // Not handed out afterwards either (a handler that caught this must not go on as the caller).
      this.resolved = undefined;
      this.refused = err;
      throw err;
    }
  }

  /** The caller, resolving the token with its own round trip if no batch has done it yet. */
  async principal(): Promise<Principal> {
    if (this.refused) throw this.refused;
    if (this.resolved) {
      await this.admitted;
      return this.resolved;
    }
    return this.admit(await this.authQuery(await this.tokenHash()));
  }

  /** The caller if already resolved, else undefined (no lookup). */
  get resolvedCaller(): Principal | undefined {
    return this.resolved;
  }

  /** The caller when already resolved (after `principal()` or `read()`). */
  get caller(): Principal {
    if (this.refused) throw this.refused;
    if (!this.resolved) throw new Error("caller read before authentication");
    return this.resolved;
  }

  /** Runs read queries in one D1 batch together with the token check; answers only if it passes. */
  async read<T extends Batch>(queries: T): Promise<BatchResponse<T>> {
    if (this.refused) throw this.refused;
    if (this.resolved) {
      await this.admitted;
      return this.db.batch(queries);
    }
    const auth = this.authQuery(await this.tokenHash());
    const [rows, ...rest] = (await this.db.batch([auth, ...queries] as unknown as T)) as unknown as [AuthRow[], ...unknown[]];
    await this.admit(rows);
    return rest as unknown as BatchResponse<T>;
  }

  /**
   * The SQL condition that limits jobs to what the caller may see: contractors see only jobs
   * assigned to their contractor record. Before the caller is resolved (inside a read batch), the
   * condition looks the token up itself, so it holds within the same round trip.
   */
  async jobVisible(contractorColumn: SQLiteColumn = schema.jobs.contractorId): Promise<SQL> {
    if (this.resolved) return jobVisibleTo(this.resolved, contractorColumn);
    return jobVisibleToToken(await this.tokenHash(), contractorColumn);
  }

  /**
   * The caller's pinned job uuids, fetched in parallel with the D1 batch: the Durable Object is
   * addressed by the user uuid the token carries, before the token is verified. Await the answer
   * with `pins()` after the batch, which keeps it only if the verified caller is that user.
   */
  startPins(): void {
    const uuid = this.resolved?.userUuid ?? (this.bearer ? claimedUserUuid(this.bearer) : undefined);
    if (!uuid) return;
    // A copy in this isolate is checked against D1's version after the batch (pins()): no call yet.
    if (cachedPins(uuid)) return;
    const snapshot = userPins(this.env, uuid).snapshot();
    snapshot.catch(() => undefined); // awaited (and its failure reported) in pins()
    this.pinsInFlight = { uuid, snapshot };
  }

  private pinsInFlight: { uuid: string; snapshot: Promise<PinsSnapshot> } | undefined;

  /** The caller's pins: this isolate's copy while D1 holds its version, else the Durable Object's. */
  async pins(): Promise<Set<string>> {
    const caller = this.caller;
    const copy = cachedPins(caller.userUuid);
    if (copy && copy.version === this.pinsVersion) return new Set(copy.pins);
    const inFlight = this.pinsInFlight;
    const snapshot =
      inFlight && inFlight.uuid === caller.userUuid ? await inFlight.snapshot : await userPins(this.env, caller.userUuid).snapshot();
    rememberPins(caller.userUuid, snapshot);
    return new Set(snapshot.pins);
  }
}
