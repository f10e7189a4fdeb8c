-- Presence and requeue (issue 19): why an agent has their status and since when, the status they
-- chose last (a login or a reconnect restores it), and each shop's presence settings.
-- `status_cause`: manual, login, activity, auto_idle, socket_gone, logout, deactivated
-- (kefu_core::presence::StatusCause); NULL before this migration.
ALTER TABLE users ADD COLUMN status_cause TEXT;
-- The reason an agent gave for `away` or `busy` (午休, 培训 …).
ALTER TABLE users ADD COLUMN status_note TEXT;
-- When the status last changed; NULL = before this migration (long ago).
ALTER TABLE users ADD COLUMN status_since INTEGER;
-- The status the agent chose last (online, busy or away) and its note.
ALTER TABLE users ADD COLUMN chosen_status TEXT NOT NULL DEFAULT 'online';
ALTER TABLE users ADD COLUMN chosen_note TEXT;

CREATE TABLE presence_settings (
    shop_id INTEGER PRIMARY KEY REFERENCES shops(id),
    -- 0 = never
    away_after_seconds INTEGER NOT NULL,
    offline_after_seconds INTEGER NOT NULL,
    requeue_grace_seconds INTEGER NOT NULL,
    -- teammate | queue
    requeue_target TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
