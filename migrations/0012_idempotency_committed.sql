-- Safe retries (src/http/idempotency.ts): `committed_at` is set by the handler's own write batch
-- (one transaction with the change), so a key whose request died after its write never runs again.
ALTER TABLE `idempotency_keys` ADD `committed_at` text;
