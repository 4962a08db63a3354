-- Directories (GET /api/jobs/contractors, agents, staff, tenants): who can be assigned to a job,
-- searchable by name prefix and paged within a rows-read budget (test/directories.test.ts).
--
-- active: an inactive agent, contractor or tenant stays on the jobs it is already on, but a create
-- or update cannot assign it (src/domain/job-fields.ts). Staff users use users.disabled_at.
ALTER TABLE `contractors` ADD `active` integer DEFAULT 1 NOT NULL;
--> statement-breakpoint
ALTER TABLE `agents` ADD `active` integer DEFAULT 1 NOT NULL;
--> statement-breakpoint
ALTER TABLE `tenants` ADD `active` integer DEFAULT 1 NOT NULL;
--> statement-breakpoint
-- The property a tenant lives at: a property's tenants are listed by address_id, and a job's
-- tenants_ids must be tenants of the job's address (a tenant with no address is not checked).
ALTER TABLE `tenants` ADD `address_id` integer REFERENCES `addresses`(`id`);
--> statement-breakpoint
-- Existing tenants: the address of the newest job they are on.
UPDATE `tenants` SET `address_id` = (
  SELECT j.address_id FROM job_tenants jt JOIN jobs j ON j.id = jt.job_id WHERE jt.tenant_id = tenants.id ORDER BY j.id DESC LIMIT 1
);
--> statement-breakpoint
-- Name search is a case-insensitive prefix range on these indexes (ASCII case folding, as NOCASE
-- does), newest-first ties broken by id: a page reads its rows, never the whole table.
CREATE INDEX `contractors_name_idx` ON `contractors` (`name` COLLATE NOCASE);
--> statement-breakpoint
CREATE INDEX `contractors_active_name_idx` ON `contractors` (`active`, `name` COLLATE NOCASE);
--> statement-breakpoint
CREATE INDEX `agents_name_idx` ON `agents` (`name` COLLATE NOCASE);
--> statement-breakpoint
CREATE INDEX `agents_active_name_idx` ON `agents` (`active`, `name` COLLATE NOCASE);
--> statement-breakpoint
CREATE INDEX `tenants_address_name_idx` ON `tenants` (`address_id`, `name` COLLATE NOCASE);
--> statement-breakpoint
-- The staff directory (admins, managers, staff): the partial index skips the contractor and agent users.
CREATE INDEX `users_staff_name_idx` ON `users` (`name` COLLATE NOCASE) WHERE `role` IN ('admin', 'manager', 'staff');
--> statement-breakpoint
-- A contractor's trades: the job types it takes. The contractor's name and active flag are copied
-- here (kept by the triggers below) so "contractors of job type 3", by name, walks one index
-- instead of every contractor.
CREATE TABLE `contractor_job_types` (
  `contractor_id` integer NOT NULL REFERENCES `contractors`(`id`) ON DELETE CASCADE,
  `job_type_id` integer NOT NULL REFERENCES `job_types`(`id`),
  `contractor_name` text DEFAULT '' NOT NULL,
  `contractor_active` integer DEFAULT 1 NOT NULL,
  PRIMARY KEY (`contractor_id`, `job_type_id`)
);
--> statement-breakpoint
CREATE INDEX `contractor_job_types_name_idx` ON `contractor_job_types` (`job_type_id`, `contractor_name` COLLATE NOCASE, `contractor_id`);
--> statement-breakpoint
CREATE INDEX `contractor_job_types_active_name_idx` ON `contractor_job_types` (`job_type_id`, `contractor_active`, `contractor_name` COLLATE NOCASE, `contractor_id`);
--> statement-breakpoint
CREATE TRIGGER `contractor_job_types_ai` AFTER INSERT ON `contractor_job_types` BEGIN
  UPDATE contractor_job_types
    SET contractor_name = (SELECT name FROM contractors WHERE id = new.contractor_id),
        contractor_active = (SELECT active FROM contractors WHERE id = new.contractor_id)
    WHERE contractor_id = new.contractor_id AND job_type_id = new.job_type_id;
END;
--> statement-breakpoint
CREATE TRIGGER `contractors_directory_au` AFTER UPDATE OF `name`, `active` ON `contractors` BEGIN
  UPDATE contractor_job_types SET contractor_name = new.name, contractor_active = new.active WHERE contractor_id = new.id;
END;
