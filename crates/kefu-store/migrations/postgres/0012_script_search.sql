-- Full-text search of scripts: the indexer follows scripts by (updated_at, id), and a deleted
-- script leaves a tombstone (written by delete_script in the same transaction) so its document
-- leaves the index too. Tombstones are tiny and kept: an index whose cursor is behind (a restored
-- backup, a stopped server) still learns about every deletion. A tombstone whose id is in use
-- again (SQLite can hand out the highest deleted id once more) is ignored by the indexer's read.
CREATE INDEX scripts_updated ON scripts (updated_at, id);

CREATE TABLE script_tombstones (
    script_id BIGINT PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    deleted_at BIGINT NOT NULL
);
CREATE INDEX script_tombstones_deleted ON script_tombstones (deleted_at, script_id);
