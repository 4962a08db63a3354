-- sla-status for one contractor with an agent or priority filter (and for a contractor caller, whose
-- jobs are always filtered by contractor) without counting the jobs (issue 25: a firm of 100 000
-- jobs read 13 000-100 000 rows per sla-status). The jobs the SLA measures (jobs.sla_open = 1) per
-- contractor (0 = none) and agent (dim 'agent', 0 = none) or priority (dim 'priority'), kept by
-- triggers beside sla_open_counts (0008).
CREATE TABLE `sla_open_pair_counts` (
	`contractor_id` integer NOT NULL,
	`dim` text NOT NULL,
	`dim_id` integer NOT NULL,
	`n` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`contractor_id`, `dim`, `dim_id`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `sla_open_pair_counts` (`contractor_id`, `dim`, `dim_id`, `n`)
  SELECT coalesce(contractor_id, 0), 'agent', coalesce(agent_id, 0), count(*) FROM jobs WHERE sla_open = 1 GROUP BY 1, 3
  UNION ALL SELECT coalesce(contractor_id, 0), 'priority', priority_id, count(*) FROM jobs WHERE sla_open = 1 GROUP BY 1, 3;
--> statement-breakpoint
CREATE TRIGGER `jobs_sla_pairs_ai` AFTER INSERT ON `jobs` WHEN new.sla_open = 1 BEGIN
  INSERT INTO sla_open_pair_counts (contractor_id, dim, dim_id, n) VALUES
    (coalesce(new.contractor_id, 0), 'agent', coalesce(new.agent_id, 0), 1), (coalesce(new.contractor_id, 0), 'priority', new.priority_id, 1)
  ON CONFLICT (contractor_id, dim, dim_id) DO UPDATE SET n = n + excluded.n;
END;
--> statement-breakpoint
CREATE TRIGGER `jobs_sla_pairs_au` AFTER UPDATE OF sla_open, agent_id, contractor_id, priority_id ON `jobs`
WHEN old.sla_open = 1 OR new.sla_open = 1 BEGIN
  INSERT INTO sla_open_pair_counts (contractor_id, dim, dim_id, n) VALUES
    (coalesce(old.contractor_id, 0), 'agent', coalesce(old.agent_id, 0), -old.sla_open), (coalesce(old.contractor_id, 0), 'priority', old.priority_id, -old.sla_open)
  ON CONFLICT (contractor_id, dim, dim_id) DO UPDATE SET n = n + excluded.n;
  INSERT INTO sla_open_pair_counts (contractor_id, dim, dim_id, n) VALUES
    (coalesce(new.contractor_id, 0), 'agent', coalesce(new.agent_id, 0), new.sla_open), (coalesce(new.contractor_id, 0), 'priority', new.priority_id, new.sla_open)
  ON CONFLICT (contractor_id, dim, dim_id) DO UPDATE SET n = n + excluded.n;
END;
--> statement-breakpoint
CREATE TRIGGER `jobs_sla_pairs_ad` AFTER DELETE ON `jobs` WHEN old.sla_open = 1 BEGIN
  INSERT INTO sla_open_pair_counts (contractor_id, dim, dim_id, n) VALUES
    (coalesce(old.contractor_id, 0), 'agent', coalesce(old.agent_id, 0), -1), (coalesce(old.contractor_id, 0), 'priority', old.priority_id, -1)
  ON CONFLICT (contractor_id, dim, dim_id) DO UPDATE SET n = n + excluded.n;
END;
