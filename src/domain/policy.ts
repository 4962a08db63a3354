import { type Permission, ROLE_PERMISSIONS, type Role } from "../auth/permissions";
import type { Principal } from "./caller";
import { forbidden } from "./errors";

/**
 * Who may do what: the one home of every access rule beside the permission table
 * (src/auth/permissions.ts, the reference's names). Routes check their permission through
 * `can(caller, permission)`; the rules the table cannot express are the named actions below.
 */

/** Management authority: deciding amendments and approval gates, accepting budget overruns, reading the trail of deleted jobs. */
const MANAGEMENT: readonly Role[] = ["admin", "manager"];
/** The managing side: everyone but contractors (they propose amendments instead of editing jobs). */
export const MANAGING_SIDE: readonly Role[] = ["admin", "manager", "staff", "agent"];
export const EVERY_ROLE: readonly Role[] = [...MANAGING_SIDE, "contractor"];
/** May edit, delete or add files to another user's case note. */
const NOTE_MODERATORS: readonly Role[] = ["admin", "manager", "staff"];

export type Action =
  /** Create, update or delete a job directly. */
  | "job.write"
  /** See a job at all (contractors: only the jobs assigned to their contractor record). */
  | "job.see"
  | "amendment.decide"
  | "approval.decide"
  /** Let a change take the contractor's total with VAT over the client budget (`accept_budget_overrun`). */
  | "budget.accept_overrun"
  /** Read the audit trail of a job that no longer exists. */
  | "audit.read_deleted"
  /** Change another user's case note. */
  | "note.moderate";

type Caller = Pick<Principal, "role" | "contractorId"> & { permissions?: ReadonlySet<Permission> };
type JobScope = { contractorId: number | null };

/** The one decision: may this caller do this (to this job)? */
export function can(caller: Caller, action: Action | Permission, job?: JobScope): boolean {
  switch (action) {
    case "job.write":
      return MANAGING_SIDE.includes(caller.role);
    case "job.see":
      return caller.role !== "contractor" || (caller.contractorId !== null && caller.contractorId === job?.contractorId);
    case "amendment.decide":
    case "approval.decide":
    case "budget.accept_overrun":
    case "audit.read_deleted":
      return MANAGEMENT.includes(caller.role);
    case "note.moderate":
      return NOTE_MODERATORS.includes(caller.role);
    default:
      // A permission name: the token's (possibly narrowed) set, else the role's.
      return (caller.permissions ?? new Set(ROLE_PERMISSIONS[caller.role])).has(action);
  }
}

/** A job's private fields: encrypted at rest, decrypted only for who may read them (`canSeePrivate`). */
export type PrivateField = "access_details" | "private_contact_name" | "private_contact_email";

/**
 * The permission that grants reading one job's private fields: `api.jobs.manage.manage`, the
 * reference's permission for everything it does not note otherwise, and so for `action=get` (it
 * notes `api.jobs.manage.list` for the list alone, which never shows them). A token narrowed to the
 * list reads a job as the list shows it.
 */
export const PRIVATE_FIELDS_PERMISSION: Permission = "api.jobs.manage.manage";

/**
 * May this caller read this private field of a job it sees? The one rule for every answer that
 * renders them (the single read; notes mail the private contact only for callers who may see it):
 * the token must hold PRIVATE_FIELDS_PERMISSION, and contractors, who attend the site, get the access
 * details but never the private contact.
 */
export function canSeePrivate(caller: Caller, field: PrivateField): boolean {
  if (!can(caller, PRIVATE_FIELDS_PERMISSION)) return false;
  return field === "access_details" || caller.role !== "contractor";
}

/** `can`, or a 403 with the reason a person can act on. */
export function assertCan(caller: Caller, action: Action | Permission, message: string, job?: JobScope): void {
  if (!can(caller, action, job)) throw forbidden(message);
}

/**
 * May this caller delete this photo or document? Contractors only what they uploaded themselves
 * (the agency's photos of their job stay); everyone else who may change the job, any.
 */
export function mayDeleteMedia(caller: Pick<Principal, "role" | "userId">, uploadedBy: number | null): boolean {
  return caller.role !== "contractor" || uploadedBy === caller.userId;
}

/** Contractors are confined to their own jobs: the SQL form of "job.see" (see job-access.ts). */
export const confinedToContractor = (caller: Pick<Principal, "role">) => caller.role === "contractor";

/** The reference's `user_type` of amendable-fields: contractors see their own, smaller set. */
export const userType = (role: Role) => (role === "contractor" ? "contractor" : "staff");
