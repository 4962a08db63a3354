CREATE TABLE `addresses` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`line1` text NOT NULL,
	`line2` text,
	`town` text NOT NULL,
	`postcode` text NOT NULL,
	`search_text` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `addresses_postcode_idx` ON `addresses` (`postcode`);--> statement-breakpoint
CREATE TABLE `agents` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uuid` text NOT NULL,
	`name` text NOT NULL,
	`email` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `agents_uuid_unique` ON `agents` (`uuid`);--> statement-breakpoint
CREATE TABLE `amendment_requests` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uuid` text NOT NULL,
	`job_id` integer NOT NULL,
	`field_name` text NOT NULL,
	`current_value` text,
	`requested_value` text NOT NULL,
	`reason` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`requested_by` integer,
	`requested_by_name` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL,
	`decided_by` integer,
	`decided_at` text,
	`decision_notes` text,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`requested_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`decided_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `amendment_requests_uuid_unique` ON `amendment_requests` (`uuid`);--> statement-breakpoint
CREATE INDEX `amendment_requests_job_idx` ON `amendment_requests` (`job_id`,`status`);--> statement-breakpoint
CREATE INDEX `amendment_requests_status_idx` ON `amendment_requests` (`status`);--> statement-breakpoint
CREATE TABLE `api_tokens` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uuid` text NOT NULL,
	`user_id` integer NOT NULL,
	`name` text NOT NULL,
	`token_hash` text NOT NULL,
	`permissions` text,
	`expires_at` text,
	`revoked_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_uuid_unique` ON `api_tokens` (`uuid`);--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_hash_idx` ON `api_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `api_tokens_user_idx` ON `api_tokens` (`user_id`);--> statement-breakpoint
CREATE TABLE `approval_decisions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`job_id` integer NOT NULL,
	`decision` text NOT NULL,
	`notes` text,
	`from_status_id` integer NOT NULL,
	`to_status_id` integer NOT NULL,
	`decided_by` integer,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`decided_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `approval_decisions_job_idx` ON `approval_decisions` (`job_id`);--> statement-breakpoint
CREATE TABLE `audit_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uuid` text NOT NULL,
	`job_id` integer,
	`job_uuid` text,
	`actor_user_id` integer,
	`actor_name` text NOT NULL,
	`action` text NOT NULL,
	`changes` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `audit_events_uuid_unique` ON `audit_events` (`uuid`);--> statement-breakpoint
CREATE INDEX `audit_events_job_idx` ON `audit_events` (`job_uuid`,`id`);--> statement-breakpoint
CREATE TABLE `case_notes` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uuid` text NOT NULL,
	`job_id` integer NOT NULL,
	`parent_id` integer,
	`message` text NOT NULL,
	`message_text` text NOT NULL,
	`is_html` integer DEFAULT false NOT NULL,
	`is_pinned` integer DEFAULT false NOT NULL,
	`send_email` integer DEFAULT false NOT NULL,
	`source` text DEFAULT 'api' NOT NULL,
	`email_status` text DEFAULT 'none' NOT NULL,
	`email_error` text,
	`email_message_id` text,
	`email_recipients` text,
	`inbound_message_id` text,
	`from_email` text,
	`created_by` integer,
	`created_by_name` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `case_notes_uuid_unique` ON `case_notes` (`uuid`);--> statement-breakpoint
CREATE INDEX `case_notes_job_idx` ON `case_notes` (`job_id`,`id`);--> statement-breakpoint
CREATE INDEX `case_notes_parent_idx` ON `case_notes` (`parent_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `case_notes_inbound_idx` ON `case_notes` (`inbound_message_id`);--> statement-breakpoint
CREATE INDEX `case_notes_email_message_idx` ON `case_notes` (`email_message_id`);--> statement-breakpoint
CREATE TABLE `contractors` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uuid` text NOT NULL,
	`name` text NOT NULL,
	`email` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `contractors_uuid_unique` ON `contractors` (`uuid`);--> statement-breakpoint
CREATE TABLE `documents` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uuid` text NOT NULL,
	`job_id` integer NOT NULL,
	`file_type_id` integer NOT NULL,
	`r2_key` text NOT NULL,
	`filename` text NOT NULL,
	`content_type` text NOT NULL,
	`size` integer NOT NULL,
	`uploaded_by` integer,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`file_type_id`) REFERENCES `file_types`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`uploaded_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `documents_uuid_unique` ON `documents` (`uuid`);--> statement-breakpoint
CREATE INDEX `documents_job_idx` ON `documents` (`job_id`);--> statement-breakpoint
CREATE TABLE `file_types` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `file_types_name_unique` ON `file_types` (`name`);--> statement-breakpoint
CREATE TABLE `job_statuses` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`sort_order` integer NOT NULL,
	`requires_approval` integer DEFAULT false NOT NULL,
	`is_completed` integer DEFAULT false NOT NULL,
	`is_closed` integer DEFAULT false NOT NULL,
	`is_cancelled` integer DEFAULT false NOT NULL,
	`is_archived` integer DEFAULT false NOT NULL,
	`approve_to_status_id` integer,
	`reject_to_status_id` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `job_statuses_name_unique` ON `job_statuses` (`name`);--> statement-breakpoint
CREATE TABLE `job_tenants` (
	`job_id` integer NOT NULL,
	`tenant_id` integer NOT NULL,
	PRIMARY KEY(`job_id`, `tenant_id`),
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `job_tenants_tenant_idx` ON `job_tenants` (`tenant_id`);--> statement-breakpoint
CREATE TABLE `job_types` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `job_types_name_unique` ON `job_types` (`name`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uuid` text NOT NULL,
	`job_ref` text NOT NULL,
	`job_title` text NOT NULL,
	`job_description` text NOT NULL,
	`status_id` integer NOT NULL,
	`priority_id` integer NOT NULL,
	`job_type_id` integer NOT NULL,
	`payment_status_id` integer,
	`time_range_id` integer,
	`address_id` integer NOT NULL,
	`agent_id` integer,
	`contractor_id` integer,
	`created_by` integer,
	`job_total_budget` real,
	`contractor_budget` real,
	`vat_percentage` real NOT NULL,
	`date_works_start_date` text,
	`date_works_end_date` text,
	`works_order_ref` text,
	`invoice_no` text,
	`access_details` text,
	`private_contact_name` text,
	`private_contact_email` text,
	`is_recall` integer DEFAULT 0 NOT NULL,
	`sla_started_at` text NOT NULL,
	`sla_deadline` text,
	`completed_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL,
	FOREIGN KEY (`status_id`) REFERENCES `job_statuses`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`priority_id`) REFERENCES `priorities`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`job_type_id`) REFERENCES `job_types`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`payment_status_id`) REFERENCES `payment_statuses`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`time_range_id`) REFERENCES `time_ranges`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`address_id`) REFERENCES `addresses`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`agent_id`) REFERENCES `agents`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`contractor_id`) REFERENCES `contractors`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_uuid_unique` ON `jobs` (`uuid`);--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_job_ref_unique` ON `jobs` (`job_ref`);--> statement-breakpoint
CREATE INDEX `jobs_status_idx` ON `jobs` (`status_id`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_priority_idx` ON `jobs` (`priority_id`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_agent_idx` ON `jobs` (`agent_id`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_contractor_idx` ON `jobs` (`contractor_id`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_created_by_idx` ON `jobs` (`created_by`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_job_type_idx` ON `jobs` (`job_type_id`);--> statement-breakpoint
CREATE INDEX `jobs_address_idx` ON `jobs` (`address_id`);--> statement-breakpoint
CREATE INDEX `jobs_sla_deadline_idx` ON `jobs` (`sla_deadline`);--> statement-breakpoint
CREATE TABLE `note_attachments` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uuid` text NOT NULL,
	`note_id` integer NOT NULL,
	`job_id` integer NOT NULL,
	`r2_key` text NOT NULL,
	`filename` text NOT NULL,
	`content_type` text NOT NULL,
	`size` integer NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL,
	FOREIGN KEY (`note_id`) REFERENCES `case_notes`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `note_attachments_uuid_unique` ON `note_attachments` (`uuid`);--> statement-breakpoint
CREATE INDEX `note_attachments_note_idx` ON `note_attachments` (`note_id`);--> statement-breakpoint
CREATE INDEX `note_attachments_job_idx` ON `note_attachments` (`job_id`);--> statement-breakpoint
CREATE TABLE `payment_statuses` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`sort_order` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `payment_statuses_name_unique` ON `payment_statuses` (`name`);--> statement-breakpoint
CREATE TABLE `photos` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uuid` text NOT NULL,
	`job_id` integer NOT NULL,
	`photo_type` text DEFAULT 'other' NOT NULL,
	`kind` text NOT NULL,
	`r2_key` text NOT NULL,
	`filename` text NOT NULL,
	`content_type` text NOT NULL,
	`size` integer NOT NULL,
	`width` integer,
	`height` integer,
	`compressed_key` text,
	`compressed_size` integer,
	`compressed_width` integer,
	`compressed_height` integer,
	`variants` text,
	`thumbnail_key` text,
	`processing_status` text DEFAULT 'pending' NOT NULL,
	`processing_error` text,
	`processing_attempts` integer DEFAULT 0 NOT NULL,
	`processed_at` text,
	`uploaded_by` integer,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`uploaded_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `photos_uuid_unique` ON `photos` (`uuid`);--> statement-breakpoint
CREATE INDEX `photos_job_idx` ON `photos` (`job_id`,`photo_type`);--> statement-breakpoint
CREATE TABLE `priorities` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`sort_order` integer NOT NULL,
	`sla_hours` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `priorities_name_unique` ON `priorities` (`name`);--> statement-breakpoint
CREATE TABLE `recalls` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uuid` text NOT NULL,
	`job_id` integer NOT NULL,
	`reason` text NOT NULL,
	`previous_status_id` integer,
	`raised_by` integer,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL,
	`outcome` text,
	`closed_by` integer,
	`closed_at` text,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`raised_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`closed_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `recalls_uuid_unique` ON `recalls` (`uuid`);--> statement-breakpoint
CREATE INDEX `recalls_job_idx` ON `recalls` (`job_id`);--> statement-breakpoint
CREATE TABLE `remedial_links` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`parent_job_id` integer NOT NULL,
	`remedial_job_id` integer NOT NULL,
	`linked_by` integer,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL,
	FOREIGN KEY (`parent_job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`remedial_job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`linked_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `remedial_links_remedial_idx` ON `remedial_links` (`remedial_job_id`);--> statement-breakpoint
CREATE INDEX `remedial_links_parent_idx` ON `remedial_links` (`parent_job_id`);--> statement-breakpoint
CREATE TABLE `sla_breaches` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`job_id` integer NOT NULL,
	`sla_deadline` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL,
	`notified_at` text,
	`notify_error` text,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `sla_breaches_job_deadline_idx` ON `sla_breaches` (`job_id`,`sla_deadline`);--> statement-breakpoint
CREATE TABLE `tenants` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uuid` text NOT NULL,
	`name` text NOT NULL,
	`email` text,
	`phone` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tenants_uuid_unique` ON `tenants` (`uuid`);--> statement-breakpoint
CREATE TABLE `time_ranges` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`start_time` text NOT NULL,
	`end_time` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uuid` text NOT NULL,
	`name` text NOT NULL,
	`email` text NOT NULL,
	`role` text NOT NULL,
	`contractor_id` integer,
	`agent_id` integer,
	`disabled_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')) NOT NULL,
	FOREIGN KEY (`contractor_id`) REFERENCES `contractors`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`agent_id`) REFERENCES `agents`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_uuid_unique` ON `users` (`uuid`);--> statement-breakpoint
CREATE UNIQUE INDEX `users_email_idx` ON `users` (`email`);