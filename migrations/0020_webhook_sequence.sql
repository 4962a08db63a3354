-- Webhooks, complete (issue 24). Every audit event of a job (the outbox) gets the job's reference and a
-- per-job sequence number (1, 2, 3, … in the order the job's events were committed), set by a trigger
-- inside the very insert that records the change, so it lives in the change's own transaction and every
-- writer (use cases, the SLA cron's INSERT … SELECT, seed scripts) gets it without knowing. The previous
-- event of the job supplies the last number (index audit_events_job_idx: job_uuid, id) and, once the job
-- row is gone, its reference; a receiver drops any event whose sequence is below the newest it applied.
ALTER TABLE `audit_events` ADD `job_ref` text;
--> statement-breakpoint
ALTER TABLE `audit_events` ADD `sequence` integer;
--> statement-breakpoint
UPDATE `audit_events` SET `sequence` = n.seq
FROM (SELECT `id`, row_number() OVER (PARTITION BY `job_uuid` ORDER BY `id`) AS seq FROM `audit_events` WHERE `job_uuid` IS NOT NULL) AS n
WHERE `audit_events`.`id` = n.`id`;
--> statement-breakpoint
UPDATE `audit_events` SET `job_ref` = coalesce(
  (SELECT j.`job_ref` FROM `jobs` j WHERE j.`uuid` = `audit_events`.`job_uuid`),
  CASE WHEN json_valid(`changes`) THEN json_extract(`changes`, '$.job_ref.before') END
) WHERE `job_uuid` IS NOT NULL;
--> statement-breakpoint
CREATE TRIGGER `audit_events_sequence_ai` AFTER INSERT ON `audit_events` WHEN new.job_uuid IS NOT NULL BEGIN
  UPDATE `audit_events` SET
    `sequence` = coalesce(
      (SELECT p.`sequence` FROM `audit_events` p WHERE p.`job_uuid` = new.job_uuid AND p.`id` < new.id ORDER BY p.`id` DESC LIMIT 1), 0) + 1,
    `job_ref` = coalesce(
      new.job_ref,
      (SELECT j.`job_ref` FROM `jobs` j WHERE j.`uuid` = new.job_uuid),
      CASE WHEN json_valid(new.changes) THEN json_extract(new.changes, '$.job_ref.before') END,
      (SELECT p.`job_ref` FROM `audit_events` p WHERE p.`job_uuid` = new.job_uuid AND p.`id` < new.id ORDER BY p.`id` DESC LIMIT 1))
  WHERE `id` = new.id;
END;
--> statement-breakpoint
-- When each pending delivery is next attempted (the delivery log's next_attempt_at): set by the relay
-- (at once) and by every retry (now + its backoff); null once delivered or failed.
ALTER TABLE `webhook_deliveries` ADD `next_attempt_at` text;
