-- Resumable uploads (tus 1.0 at /api/uploads, src/uploads/): one row per upload in progress, so a
-- resume on any isolate (or after a restart) continues at the stored offset. The bytes live in R2:
-- full 5 MiB parts in an R2 multipart upload (r2_upload_id, parts = JSON [{partNumber, etag}]) and
-- the pending tail under 5 MiB as a staging object (key ends in the offset it reaches). A row goes
-- once it fails its checks, is terminated or expires (the cron aborts it); a completed upload keeps
-- its row (result = the record it became) until it expires, so a client that lost the final answer
-- learns it from HEAD.
CREATE TABLE `uploads` (
  `id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  `uuid` text NOT NULL,
  `token_id` integer NOT NULL,
  `user_id` integer NOT NULL,
  `job_id` integer NOT NULL,
  `job_uuid` text NOT NULL,
  `target` text NOT NULL,
  `photo_type` text,
  `file_type_id` integer,
  `note_uuid` text,
  `filename` text NOT NULL,
  `declared_type` text,
  `upload_length` integer NOT NULL,
  `upload_offset` integer DEFAULT 0 NOT NULL,
  `r2_key` text NOT NULL,
  `r2_upload_id` text,
  `parts` text DEFAULT '[]' NOT NULL,
  `lease_until` text,
  `result` text,
  `created_at` text NOT NULL,
  `expires_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uploads_uuid_unique` ON `uploads` (`uuid`);
--> statement-breakpoint
CREATE INDEX `uploads_expires_idx` ON `uploads` (`expires_at`);
