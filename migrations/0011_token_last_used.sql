-- When a token was last used (to the nearest few minutes: src/auth/token-use.ts writes it in the
-- background at most once per window), so `GET /api/security/tokens` can show stale tokens to revoke.
ALTER TABLE `api_tokens` ADD `last_used_at` text;
