-- Safe retries (src/http/idempotency.ts): one row per (API token, Idempotency-Key), kept 24 h.
-- `status` is NULL while the first request is in flight; then the answer it gave.
CREATE TABLE `idempotency_keys` (
	`token_id` integer NOT NULL,
	`idem_key` text NOT NULL,
	`request_hash` text NOT NULL,
	`status` integer,
	`content_type` text,
	`body` text,
	`created_at` text NOT NULL,
	`expires_at` text NOT NULL,
	PRIMARY KEY(`token_id`, `idem_key`),
	FOREIGN KEY (`token_id`) REFERENCES `api_tokens`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `idempotency_keys_expires_idx` ON `idempotency_keys` (`expires_at`);
--> statement-breakpoint
-- Job versions for ETag / If-Match (src/jobs/manage/etag.ts). The trigger bumps the version on
-- every UPDATE of a job row, whichever code path makes it (update, amendments, recalls, gates).
ALTER TABLE `jobs` ADD `version` integer DEFAULT 1 NOT NULL;
--> statement-breakpoint
CREATE TRIGGER `jobs_version_bump` AFTER UPDATE ON `jobs` FOR EACH ROW WHEN NEW.version = OLD.version BEGIN
	UPDATE `jobs` SET `version` = OLD.version + 1 WHERE `id` = NEW.id;
END;
