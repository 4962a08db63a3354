import { eq, type SQL } from "drizzle-orm";
import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { effectivePermissions, type Permission } from "../auth/permissions";
import { cachedToken, rememberToken, type VerifiedToken } from "../auth/token-cache";
import { noteTokenUse } from "../auth/token-use";
import { claimedUserUuid, hashToken } from "../auth/tokens";
import type { FieldCipher } from "../crypto/fields";
import * as schema from "../db/schema";
import { aliased } from "../db/select";
import type { MeteredD1 } from "../db/session";
import type { Channel, Principal } from "../domain/caller";
import { ApiError } from "../domain/errors";
import { jobVisibleTo, jobVisibleToToken } from "../domain/job-access";
import { cachedPins, type PinsSnapshot, rememberPins } from "../pins/pins-cache";
import { userPins } from "../pins/user-pins";
import { createServices, type Db, type Services } from "../platform/services";

type Batch = Readonly<[BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]>;

type AuthRow = Awaited<ReturnType<RequestContext["authQuery"]>>[number];

/**
 * One API request: its services (built once, `src/platform/services.ts`) and its caller. The
 * caller is resolved once, first (src/http/operation.ts): from this isolate's cache of verified
 * tokens (src/auth/token-cache.ts, no round trip) or from D1 (one round trip, then cached). So a
 * read costs one round trip and a change two with a known token; a token new to this isolate costs
 * exactly one more. A batch run before the caller is resolved (`read`) still carries the token
 * check itself, for callers outside operation().
 */
export class RequestContext {
  readonly services: Services;
  readonly db: Db;
  readonly requestId: string;
  private resolved: Principal | undefined;
  /** users.pins_version (src/pins/pins-cache.ts), and whether this request read it from D1. */
  private pinsVersion: number | undefined;
  private pinsVersionRead = false;
  /** Why the caller was not admitted: every later use of the caller fails with it. */
  private refused: unknown;
  permission: Permission | undefined;
  /** Set by a channel other than the HTTP API before the caller is resolved (src/mcp/): the caller carries it. */
  via: Channel | undefined;

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

  private now() {
    return this.services.clock.now().getTime();
  }

  /** D1's answer for the token: refused (401, final for this request) or verified and cached. */
  private async accept(rows: AuthRow[]): Promise<Principal> {
    const row = rows[0];
    try {
      if (!row) throw new ApiError("UNAUTHORIZED", "Invalid bearer token");
      if (row.revokedAt) throw new ApiError("UNAUTHORIZED", "Bearer token has been revoked");
      if (row.expiresAt && Date.parse(row.expiresAt) <= this.now()) throw new ApiError("UNAUTHORIZED", "Bearer token has expired");
      if (row.disabledAt) throw new ApiError("UNAUTHORIZED", "User account is disabled");
    } catch (err) {
      this.refused = err; // no second lookup for the same request
      throw err;
    }
    const verified: VerifiedToken = {
      caller: {
        tokenId: row.tokenId,
        userId: row.userId,
        userUuid: row.userUuid,
        name: row.name,
        email: row.email,
        role: row.role,
        contractorId: row.contractorId,
        agentId: row.agentId,
        permissions: effectivePermissions(row.role, row.narrowed),
      },
      expiresAt: row.expiresAt,
      lastUsedAt: row.lastUsedAt,
      pinsVersion: row.pinsVersion,
    };
    rememberToken(await this.tokenHash(), verified, this.now());
    this.pinsVersionRead = true;
    return this.use(verified);
  }

  private async use(verified: VerifiedToken): Promise<Principal> {
    this.pinsVersion = verified.pinsVersion;
    noteTokenUse(this.services, verified.caller.tokenId, verified.lastUsedAt, await this.tokenHash());
    // A copy: the cached caller is shared by this token's other requests.
    this.resolved = this.via ? { ...verified.caller, via: this.via } : verified.caller;
    return this.resolved;
  }

  /** The verified caller from this isolate's cache (no round trip), if the token is there and unexpired. */
  private async fromCache(): Promise<Principal | undefined> {
    const hit = cachedToken(await this.tokenHash(), this.now());
    return hit ? this.use(hit) : undefined;
  }

  /** Refuses the caller for good (the pipeline's 403s): a handler must not go on as it. */
  refuse(err: unknown): never {
    this.resolved = undefined;
    this.refused = err;
    throw err;
  }

  /** The caller: from the token cache, else with its own round trip. */
  async principal(): Promise<Principal> {
    if (this.refused) throw this.refused;
    if (this.resolved) return this.resolved;
    return (await this.fromCache()) ?? this.accept(await this.authQuery(await this.tokenHash()));
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

  /**
   * Runs read queries in one D1 batch. Before the caller is resolved (and not cached), the token
   * check rides in the same batch and the answer is given only if it passes. A caller from the
   * cache gets its pins version read in the batch when the pins are wanted (`startPins`).
   */
  async read<T extends Batch>(queries: T): Promise<BatchResponse<T>> {
    if (this.refused) throw this.refused;
    const caller = this.resolved ?? (await this.fromCache());
    if (caller && (this.pinsVersionRead || !this.pinsWanted)) return this.db.batch(queries);
    if (caller) {
      const version = this.db.select({ v: schema.users.pinsVersion }).from(schema.users).where(eq(schema.users.id, caller.userId));
      const [rows, ...rest] = (await this.db.batch([version, ...queries] as unknown as T)) as unknown as [{ v: number }[], ...unknown[]];
      this.pinsVersion = rows[0]?.v;
      this.pinsVersionRead = true;
      return rest as unknown as BatchResponse<T>;
    }
    const auth = this.authQuery(await this.tokenHash());
    const [rows, ...rest] = (await this.db.batch([auth, ...queries] as unknown as T)) as unknown as [AuthRow[], ...unknown[]];
    await this.accept(rows);
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

  private pinsWanted = false;

  /**
   * The caller's pinned job uuids, fetched in parallel with the D1 batch: the Durable Object is
   * addressed by the user uuid the token carries, before the token is verified. Await the answer
   * with `pins()` after the batch, which keeps it only if the verified caller is that user.
   */
  startPins(): void {
    this.pinsWanted = true;
    const uuid = this.resolved?.userUuid ?? (this.bearer ? claimedUserUuid(this.bearer) : undefined);
    if (!uuid) return;
    // A copy in this isolate is checked against D1's version after the batch (pins()): no call yet.
    if (cachedPins(uuid)) return;
    const snapshot = userPins(this.env, uuid).snapshot();
    snapshot.catch(() => undefined); // awaited (and its failure reported) in pins()
    this.pinsInFlight = { uuid, snapshot };
  }

  private pinsInFlight: { uuid: string; snapshot: Promise<PinsSnapshot> } | undefined;

  /**
   * The caller's pins: this isolate's copy while D1 holds its version, else the Durable Object's.
   * After a batch the version is the one it read; asked before any (the `pinned` filter), it is the
   * token cache's, at most its TTL old: a toggle through another isolate shows here within 30 s.
   */
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
