/** Permission names exactly as the API reference names them. */
export const PERMISSIONS = [
  "api.jobs.manage.list",
  "api.jobs.manage.manage",
  "api.jobs.case_notes.manage",
  "api.jobs.photos.view",
  "api.jobs.photos.manage",
  "api.jobs.documents.manage",
  "api.jobs.recall.manage",
  "api.jobs.mark_recall_completed.manage",
  "api.jobs.amend_request.manage",
  "api.jobs.amendable_fields.manage",
  "api.jobs.toggle_pin.manage",
  "api.jobs.remedials.manage",
  // Not in the reference: the work on a job (POST /api/jobs/work), named in its form.
  "api.jobs.work.manage",
  // Not in the reference: a user's own API tokens (src/security/tokens/), every role.
  "api.security.tokens.manage",
  // Not in the reference (which has no directories): GET /api/jobs/contractors, agents, staff,
  // tenants. Who sees which records is the role table below plus the own-record rule
  // (src/jobs/reference/directory.ts).
  "api.jobs.contractors.manage",
  "api.jobs.agents.manage",
  "api.jobs.staff.manage",
  "api.jobs.tenants.manage",
  // Not in the reference: webhook subscriptions (src/admin/webhooks/), administrators only.
  "api.admin.webhooks",
  // Not in the reference (which has no admin endpoints): POST /api/admin/rotate-keys.
  "api.admin.rotate_keys",
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const ROLES = ["admin", "manager", "staff", "agent", "contractor"] as const;
export type Role = (typeof ROLES)[number];

const ALL: readonly Permission[] = PERMISSIONS;
/** Administration permissions (not in the reference): held by the admin role alone. */
const JOBS: readonly Permission[] = PERMISSIONS.filter((p) => !p.startsWith("api.admin."));

const NOT_FOR_CONTRACTORS: ReadonlySet<Permission> = new Set([
  "api.jobs.recall.manage",
  "api.jobs.mark_recall_completed.manage",
  "api.jobs.remedials.manage",
  "api.jobs.agents.manage",
  "api.jobs.staff.manage",
  "api.jobs.tenants.manage",
]);

/**
 * Role → permissions (decisions go through `can` in src/domain/policy.ts, which also holds the
 * rules this table cannot express: contractor scoping, management authority, private contacts). Contractors hold `api.jobs.manage.manage` because the reference gates
 * every endpoint on it "unless noted" (reference lists, SLA status), but they are confined to
 * their own jobs and may not create, update or delete jobs (they propose amendments instead);
 * recalls and remedial links are decided by the managing side.
 */
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: ALL,
  manager: JOBS,
  staff: JOBS,
  // Agents work for a letting agency, not for us: no staff directory (and only their own agent
  // record in the agents directory).
  agent: JOBS.filter((p) => p !== "api.jobs.staff.manage"),
  // Contractors: no recalls or remedial links (the managing side decides them), their own record
  // in the contractors directory and no agents, staff or tenants directories.
  contractor: JOBS.filter((p) => !NOT_FOR_CONTRACTORS.has(p)),
};

/** A token may narrow its user's permissions, never widen them. */
export function effectivePermissions(role: Role, narrowedJson: string | null): Set<Permission> {
  const base = ROLE_PERMISSIONS[role] ?? [];
  if (!narrowedJson) return new Set(base);
  let narrowed: unknown;
  try {
    narrowed = JSON.parse(narrowedJson);
  } catch {
    return new Set();
  }
  if (!Array.isArray(narrowed)) return new Set();
  return new Set(base.filter((p) => narrowed.includes(p)));
}
