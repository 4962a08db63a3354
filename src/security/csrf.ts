import { useCase } from "../app/use-case";
import { mintCsrfToken } from "../auth/csrf";

/** A CSRF token bound to the caller's API token; any valid API token may fetch one. */
export const issueCsrfToken = useCase({ permission: null }, async (scope): Promise<{ csrf_token: string; expires_at: string }> => {
  const { token, expiresAt } = await mintCsrfToken(
    scope.services.env.SIGNING_SECRET,
    scope.caller.tokenId,
    scope.services.clock.now().getTime(),
  );
  return { csrf_token: token, expires_at: expiresAt };
});
