-- Property-centric search (issue 21): the jobs search index also holds the job's address (lines,
-- town, postcode, and the postcode without its space) and the names of its contractor and agent.
-- None of these is encrypted (src/domain/encrypted-columns.ts; addresses and party names are clear
-- text shown in every job answer), so the FTS5 shadow tables store nothing that is not already in
-- clear; the encrypted columns (access details, private contact, tenants' contacts) stay out.
-- The index keeps its own copy of the text (no external content: the columns come from four
-- tables), kept by triggers on every table a column comes from.
DROP TRIGGER IF EXISTS `jobs_search_ai`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `jobs_search_ad`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `jobs_search_au`;
--> statement-breakpoint
DROP TABLE IF EXISTS `jobs_search`;
--> statement-breakpoint
CREATE VIRTUAL TABLE `jobs_search` USING fts5(job_ref, job_title, job_description, property, contractor_name, agent_name, tokenize='trigram');
--> statement-breakpoint
CREATE VIEW `jobs_search_property` AS
  SELECT a.id AS address_id,
         a.line1 || ' ' || coalesce(a.line2 || ' ', '') || a.town || ' ' || a.postcode || ' ' || replace(a.postcode, ' ', '') AS property
  FROM addresses a;
--> statement-breakpoint
INSERT INTO jobs_search(rowid, job_ref, job_title, job_description, property, contractor_name, agent_name)
  SELECT j.id, j.job_ref, j.job_title, j.job_description,
         (SELECT p.property FROM jobs_search_property p WHERE p.address_id = j.address_id),
         (SELECT c.name FROM contractors c WHERE c.id = j.contractor_id),
         (SELECT g.name FROM agents g WHERE g.id = j.agent_id)
  FROM jobs j;
--> statement-breakpoint
CREATE TRIGGER `jobs_search_ai` AFTER INSERT ON `jobs` BEGIN
  INSERT INTO jobs_search(rowid, job_ref, job_title, job_description, property, contractor_name, agent_name) VALUES (
    new.id, new.job_ref, new.job_title, new.job_description,
    (SELECT p.property FROM jobs_search_property p WHERE p.address_id = new.address_id),
    (SELECT c.name FROM contractors c WHERE c.id = new.contractor_id),
    (SELECT g.name FROM agents g WHERE g.id = new.agent_id));
END;
--> statement-breakpoint
CREATE TRIGGER `jobs_search_ad` AFTER DELETE ON `jobs` BEGIN
  DELETE FROM jobs_search WHERE rowid = old.id;
END;
--> statement-breakpoint
CREATE TRIGGER `jobs_search_au` AFTER UPDATE OF job_ref, job_title, job_description, address_id, contractor_id, agent_id ON `jobs` BEGIN
  UPDATE jobs_search SET job_ref = new.job_ref, job_title = new.job_title, job_description = new.job_description,
    property = (SELECT p.property FROM jobs_search_property p WHERE p.address_id = new.address_id),
    contractor_name = (SELECT c.name FROM contractors c WHERE c.id = new.contractor_id),
    agent_name = (SELECT g.name FROM agents g WHERE g.id = new.agent_id)
  WHERE rowid = new.id;
END;
--> statement-breakpoint
CREATE TRIGGER `jobs_search_address_au` AFTER UPDATE OF line1, line2, town, postcode ON `addresses` BEGIN
  UPDATE jobs_search SET property = (SELECT p.property FROM jobs_search_property p WHERE p.address_id = new.id)
  WHERE rowid IN (SELECT id FROM jobs WHERE address_id = new.id);
END;
--> statement-breakpoint
CREATE TRIGGER `jobs_search_contractor_au` AFTER UPDATE OF name ON `contractors` BEGIN
  UPDATE jobs_search SET contractor_name = new.name WHERE rowid IN (SELECT id FROM jobs WHERE contractor_id = new.id);
END;
--> statement-breakpoint
CREATE TRIGGER `jobs_search_agent_au` AFTER UPDATE OF name ON `agents` BEGIN
  UPDATE jobs_search SET agent_name = new.name WHERE rowid IN (SELECT id FROM jobs WHERE agent_id = new.id);
END;
