-- Full-text search over job title, reference and description (never over encrypted columns:
-- FTS5 shadow tables store the indexed text in clear). Trigram: substring, case-insensitive.
CREATE VIRTUAL TABLE `jobs_search` USING fts5(job_ref, job_title, job_description, content='jobs', content_rowid='id', tokenize='trigram');
--> statement-breakpoint
CREATE TRIGGER `jobs_search_ai` AFTER INSERT ON `jobs` BEGIN
  INSERT INTO jobs_search(rowid, job_ref, job_title, job_description) VALUES (new.id, new.job_ref, new.job_title, new.job_description);
END;
--> statement-breakpoint
CREATE TRIGGER `jobs_search_ad` AFTER DELETE ON `jobs` BEGIN
  INSERT INTO jobs_search(jobs_search, rowid, job_ref, job_title, job_description) VALUES ('delete', old.id, old.job_ref, old.job_title, old.job_description);
END;
--> statement-breakpoint
CREATE TRIGGER `jobs_search_au` AFTER UPDATE OF job_ref, job_title, job_description ON `jobs` BEGIN
  INSERT INTO jobs_search(jobs_search, rowid, job_ref, job_title, job_description) VALUES ('delete', old.id, old.job_ref, old.job_title, old.job_description);
  INSERT INTO jobs_search(rowid, job_ref, job_title, job_description) VALUES (new.id, new.job_ref, new.job_title, new.job_description);
END;
