-- The cron's media sweep (src/media/sweep.ts): photos and videos not yet settled, oldest first.
-- Partial: only the few rows in flight are in it, so the sweep reads nothing else.
CREATE INDEX `photos_unsettled_idx` ON `photos` (`created_at`) WHERE processing_status IN ('pending', 'processing');
