-- The version of the user's pins (the UserPins Durable Object's own counter, copied here after each
-- toggle): read with the token check, it tells an isolate whether its cached pins are current, so
-- a list or single read needs no Durable Object call while they are (src/pins/pins-cache.ts).
ALTER TABLE `users` ADD `pins_version` integer DEFAULT 0 NOT NULL;
