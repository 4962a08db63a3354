import type { Permission } from "../auth/permissions";
import type { Principal } from "../domain/caller";
import { ApiError } from "../domain/errors";
import { type Action, can } from "../domain/policy";
import type { Scope } from "./scope";

/**
 * Who may run a use case: the reference's permission and, where the permission table cannot say
 * it, a named rule of src/domain/policy.ts with the reason a refused caller reads. Data, so the
 * HTTP pipeline checks it before it reads a body (403 before 400) and every other channel gets
 * the same refusal from the use case itself.
 */
export interface Admission {
  readonly permission: Permission | null;
  readonly policy?: { readonly rule: Action; readonly message: string };
}

/** Refuses a caller the admission does not let in (403), with the same messages on every channel. */
export function admitCaller(caller: Principal, admission: Admission): void {
  if (admission.permission && !can(caller, admission.permission)) {
    throw new ApiError("FORBIDDEN", `Missing permission: ${admission.permission}`);
  }
  const policy = admission.policy;
  if (policy && !can(caller, policy.rule)) throw new ApiError("FORBIDDEN", policy.message);
}

/** One operation of the API, callable from any channel: `(scope, input) => data`, never an HTTP status. */
export type UseCase<I, O> = ((scope: Scope, input: I) => Promise<O>) & { readonly admission: Admission };

/**
 * Declares a use case: its admission and its work. The returned function admits the scope's
 * caller, then runs; the HTTP route declares the same `admission` (by reference) so its pipeline
 * refuses before it validates.
 */
export function useCase<I, O>(admission: Admission, run: (scope: Scope, input: I) => Promise<O>): UseCase<I, O> {
  const fn = async (scope: Scope, input: I) => {
    admitCaller(await scope.principal(), admission);
    return run(scope, input);
  };
  return Object.assign(fn, { admission });
}
