-- Job lists and SLA figures at 100 000 jobs (docs/scaling.md): what a list filters on is on the
-- job row itself, and what the SLA measures has its own small indexes.
--
-- photos_count / documents_count: kept by triggers, so a listing shows them and has_photos /
-- has_documents filter on them without a lookup per job.
ALTER TABLE `jobs` ADD `photos_count` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
ALTER TABLE `jobs` ADD `documents_count` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
-- sla_open: 1 while the SLA measures the job (an open status and a deadline), kept by triggers.
ALTER TABLE `jobs` ADD `sla_open` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
UPDATE `jobs` SET
  `photos_count` = (SELECT count(*) FROM `photos` WHERE `photos`.`job_id` = `jobs`.`id`),
  `documents_count` = (SELECT count(*) FROM `documents` WHERE `documents`.`job_id` = `jobs`.`id`),
  `sla_open` = coalesce((SELECT NOT (s.is_completed OR s.is_closed OR s.is_cancelled OR s.is_archived) FROM `job_statuses` s WHERE s.id = `jobs`.`status_id`), 0)
    AND `sla_deadline` IS NOT NULL;
--> statement-breakpoint
CREATE TRIGGER `photos_count_ai` AFTER INSERT ON `photos` BEGIN
  UPDATE jobs SET photos_count = photos_count + 1 WHERE id = new.job_id;
END;
--> statement-breakpoint
CREATE TRIGGER `photos_count_ad` AFTER DELETE ON `photos` BEGIN
  UPDATE jobs SET photos_count = photos_count - 1 WHERE id = old.job_id;
END;
--> statement-breakpoint
CREATE TRIGGER `documents_count_ai` AFTER INSERT ON `documents` BEGIN
  UPDATE jobs SET documents_count = documents_count + 1 WHERE id = new.job_id;
END;
--> statement-breakpoint
CREATE TRIGGER `documents_count_ad` AFTER DELETE ON `documents` BEGIN
  UPDATE jobs SET documents_count = documents_count - 1 WHERE id = old.job_id;
END;
--> statement-breakpoint
CREATE TRIGGER `jobs_sla_open_ai` AFTER INSERT ON `jobs` BEGIN
  UPDATE jobs SET sla_open = coalesce((SELECT NOT (s.is_completed OR s.is_closed OR s.is_cancelled OR s.is_archived) FROM job_statuses s WHERE s.id = new.status_id), 0)
    AND new.sla_deadline IS NOT NULL WHERE id = new.id;
END;
--> statement-breakpoint
CREATE TRIGGER `jobs_sla_open_au` AFTER UPDATE OF status_id, sla_deadline ON `jobs` BEGIN
  UPDATE jobs SET sla_open = coalesce((SELECT NOT (s.is_completed OR s.is_closed OR s.is_cancelled OR s.is_archived) FROM job_statuses s WHERE s.id = new.status_id), 0)
    AND new.sla_deadline IS NOT NULL WHERE id = new.id;
END;
--> statement-breakpoint
-- Two filters the reference's examples combine (status and priority), newest first within them.
CREATE INDEX `jobs_status_priority_idx` ON `jobs` (`status_id`,`priority_id`);
--> statement-breakpoint
-- The SLA's measured jobs only (a fraction of the estate), by deadline, per filter.
-- (The end date is in the index: the not-yet-due range counts overdue jobs without reading rows.)
CREATE INDEX `jobs_sla_open_idx` ON `jobs` (`sla_deadline`, `date_works_end_date`) WHERE `sla_open` = 1;
--> statement-breakpoint
CREATE INDEX `jobs_sla_open_agent_idx` ON `jobs` (`agent_id`,`sla_deadline`) WHERE `sla_open` = 1;
--> statement-breakpoint
CREATE INDEX `jobs_sla_open_contractor_idx` ON `jobs` (`contractor_id`,`sla_deadline`) WHERE `sla_open` = 1;
--> statement-breakpoint
CREATE INDEX `jobs_sla_open_priority_idx` ON `jobs` (`priority_id`,`sla_deadline`) WHERE `sla_open` = 1;
--> statement-breakpoint
-- has_photos=true / has_documents=true: the jobs with media, newest first, without walking the rest.
CREATE INDEX `jobs_with_photos_idx` ON `jobs` (`id`) WHERE `photos_count` > 0;
--> statement-breakpoint
CREATE INDEX `jobs_with_documents_idx` ON `jobs` (`id`) WHERE `documents_count` > 0;
