-- sla-status without re-aggregating the estate (docs/scaling.md): the number of jobs the SLA
-- measures (jobs.sla_open = 1), in total and per agent, contractor and priority (0 = none), kept
-- by triggers. A request then reads one counter and only the jobs not yet due (a deadline still
-- ahead: bounded by how many jobs arrive within the longest SLA); breached = measured - not due.
CREATE TABLE `sla_open_counts` (
	`dim` text NOT NULL,
	`dim_id` integer NOT NULL,
	`n` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`dim`, `dim_id`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `sla_open_counts` (`dim`, `dim_id`, `n`)
  SELECT 'all', 0, count(*) FROM jobs WHERE sla_open = 1
  UNION ALL SELECT 'agent', coalesce(agent_id, 0), count(*) FROM jobs WHERE sla_open = 1 GROUP BY 2
  UNION ALL SELECT 'contractor', coalesce(contractor_id, 0), count(*) FROM jobs WHERE sla_open = 1 GROUP BY 2
  UNION ALL SELECT 'priority', priority_id, count(*) FROM jobs WHERE sla_open = 1 GROUP BY 2;
--> statement-breakpoint
CREATE TRIGGER `jobs_sla_counts_ai` AFTER INSERT ON `jobs` WHEN new.sla_open = 1 BEGIN
  INSERT INTO sla_open_counts (dim, dim_id, n) VALUES
    ('all', 0, 1), ('agent', coalesce(new.agent_id, 0), 1), ('contractor', coalesce(new.contractor_id, 0), 1), ('priority', new.priority_id, 1)
  ON CONFLICT (dim, dim_id) DO UPDATE SET n = n + excluded.n;
END;
--> statement-breakpoint
CREATE TRIGGER `jobs_sla_counts_au` AFTER UPDATE OF sla_open, agent_id, contractor_id, priority_id ON `jobs`
WHEN old.sla_open = 1 OR new.sla_open = 1 BEGIN
  INSERT INTO sla_open_counts (dim, dim_id, n) VALUES
    ('all', 0, -old.sla_open), ('agent', coalesce(old.agent_id, 0), -old.sla_open),
    ('contractor', coalesce(old.contractor_id, 0), -old.sla_open), ('priority', old.priority_id, -old.sla_open)
  ON CONFLICT (dim, dim_id) DO UPDATE SET n = n + excluded.n;
  INSERT INTO sla_open_counts (dim, dim_id, n) VALUES
    ('all', 0, new.sla_open), ('agent', coalesce(new.agent_id, 0), new.sla_open),
    ('contractor', coalesce(new.contractor_id, 0), new.sla_open), ('priority', new.priority_id, new.sla_open)
  ON CONFLICT (dim, dim_id) DO UPDATE SET n = n + excluded.n;
END;
--> statement-breakpoint
CREATE TRIGGER `jobs_sla_counts_ad` AFTER DELETE ON `jobs` WHEN old.sla_open = 1 BEGIN
  INSERT INTO sla_open_counts (dim, dim_id, n) VALUES
    ('all', 0, -1), ('agent', coalesce(old.agent_id, 0), -1), ('contractor', coalesce(old.contractor_id, 0), -1), ('priority', old.priority_id, -1)
  ON CONFLICT (dim, dim_id) DO UPDATE SET n = n + excluded.n;
END;
