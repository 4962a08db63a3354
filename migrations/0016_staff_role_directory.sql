-- The staff directory filtered by role (GET /api/jobs/staff?role=admin): one name index per role,
-- so a rare role reads its own page instead of walking every staff user's name for it
-- (test/rows-read-directories.test.ts: role=manager read 610 rows for a page of 50, role=admin
-- every staff user). Partial on `role = …`, they serve only a query naming that role: the unfiltered
-- directory keeps users_staff_name_idx (an index led by role would draw it into a sort).
CREATE INDEX `users_admin_name_idx` ON `users` (`name` COLLATE NOCASE) WHERE `role` = 'admin';
--> statement-breakpoint
CREATE INDEX `users_manager_name_idx` ON `users` (`name` COLLATE NOCASE) WHERE `role` = 'manager';
--> statement-breakpoint
CREATE INDEX `users_staff_role_name_idx` ON `users` (`name` COLLATE NOCASE) WHERE `role` = 'staff';
