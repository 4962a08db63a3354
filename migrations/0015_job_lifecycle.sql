-- The job lifecycle (src/domain/lifecycle.ts): when the assigned contractor accepted the job, when
-- work started, and who signed the completed work off (closing the job). Written only by the
-- lifecycle's channels; a reassignment or a decline clears accepted_at.
ALTER TABLE `jobs` ADD `accepted_at` text;
--> statement-breakpoint
ALTER TABLE `jobs` ADD `started_at` text;
--> statement-breakpoint
ALTER TABLE `jobs` ADD `signed_off_at` text;
--> statement-breakpoint
ALTER TABLE `jobs` ADD `signed_off_by` integer REFERENCES `users`(`id`);
