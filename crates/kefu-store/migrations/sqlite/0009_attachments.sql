-- Attachments (images and files in chat). One row per upload; the bytes live on disk under
-- <data-dir>/attachments/ by SHA-256, shared by every row with the same hash. The row is written
-- in the same transaction as the message that carries it, after the file is durable.
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    -- 'customer' or 'agent'
    uploader_type TEXT NOT NULL,
    uploader_id INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    mime TEXT NOT NULL,
    size INTEGER NOT NULL,
    width INTEGER,
    height INTEGER,
    has_thumb INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX attachments_conversation ON attachments (conversation_id, id);
CREATE INDEX attachments_hash ON attachments (sha256);
