-- Reference data every environment needs: the workflow's statuses, priorities with their SLA
-- hours, job types, payment statuses, time slots and document file types. Ids are fixed so the
-- API reference's examples (status 1 = Open, priority 2 = Medium, type 3 = Gas & Heating) hold.
INSERT INTO job_statuses (id, name, sort_order, requires_approval, is_completed, is_closed, is_cancelled, is_archived, approve_to_status_id, reject_to_status_id) VALUES
  (1, 'Open', 1, 0, 0, 0, 0, 0, NULL, NULL),
  (2, 'Awaiting Approval', 2, 1, 0, 0, 0, 0, 3, 1),
  (3, 'Approved', 3, 0, 0, 0, 0, 0, NULL, NULL),
  (4, 'In Progress', 4, 0, 0, 0, 0, 0, NULL, NULL),
  (5, 'Recalled', 5, 0, 0, 0, 0, 0, NULL, NULL),
  (6, 'Completed', 6, 0, 1, 0, 0, 0, NULL, NULL),
  (7, 'Closed', 7, 0, 0, 1, 0, 0, NULL, NULL),
  (8, 'Cancelled', 8, 0, 0, 0, 1, 0, NULL, NULL),
  (9, 'Archived', 9, 0, 0, 0, 0, 1, NULL, NULL);
--> statement-breakpoint
INSERT INTO priorities (id, name, sort_order, sla_hours) VALUES
  (1, 'Low', 4, 336),
  (2, 'Medium', 3, 72),
  (3, 'High', 2, 24),
  (4, 'Emergency', 1, 4);
--> statement-breakpoint
INSERT INTO job_types (id, name) VALUES
  (1, 'General Maintenance'), (2, 'Plumbing'), (3, 'Gas & Heating'), (4, 'Electrical'), (5, 'Roofing'),
  (6, 'Carpentry'), (7, 'Decorating'), (8, 'Appliances'), (9, 'Locksmith'), (10, 'Damp & Mould');
--> statement-breakpoint
INSERT INTO payment_statuses (id, name, sort_order) VALUES
  (1, 'Unpaid', 1), (2, 'Invoiced', 2), (3, 'Paid', 3), (4, 'Disputed', 4);
--> statement-breakpoint
INSERT INTO time_ranges (id, name, start_time, end_time) VALUES
  (1, 'Morning (08:00-12:00)', '08:00', '12:00'),
  (2, 'Afternoon (12:00-17:00)', '12:00', '17:00'),
  (3, 'Evening (17:00-20:00)', '17:00', '20:00'),
  (4, 'All day (08:00-17:00)', '08:00', '17:00');
--> statement-breakpoint
INSERT INTO file_types (id, name) VALUES
  (1, 'Quote'), (2, 'Invoice'), (3, 'Certificate'), (4, 'Report'), (5, 'Risk Assessment'), (6, 'Other');
