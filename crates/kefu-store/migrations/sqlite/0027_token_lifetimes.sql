-- Sessions that end when they should (issue 20, item 6): a shopper's visitor token expires after an
-- idle time and is rotated as it ages (the replaced token keeps working for a short overlap, so a
-- second open tab is not thrown out); an agent's session may end after an idle time.
-- NULL last-use times mean "since creation".
ALTER TABLE visitor_tokens ADD COLUMN last_used_at INTEGER;
ALTER TABLE visitor_tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;
