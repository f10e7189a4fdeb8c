-- Outbound e-mail. A shop's SMTP settings (one row a shop; the password is a credential the server
-- must replay to the SMTP server, so it is stored as given: protect the data directory) and the
-- outbox: a mail is queued in the same commit as the change that causes it, then delivered by a
-- background sender that claims due rows with a lease (next_attempt_at) and retries with back-off.
CREATE TABLE mail_settings (
    shop_id INTEGER PRIMARY KEY REFERENCES shops(id),
    enabled INTEGER NOT NULL DEFAULT 0,
    host TEXT NOT NULL DEFAULT '',
    port INTEGER NOT NULL DEFAULT 587,
    security TEXT NOT NULL DEFAULT 'starttls',
    username TEXT NOT NULL DEFAULT '',
    password TEXT NOT NULL DEFAULT '',
    from_address TEXT NOT NULL DEFAULT '',
    from_name TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
);

CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    to_address TEXT NOT NULL,
    to_name TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    -- what caused it: 'ticket_reply', 'test'
    kind TEXT NOT NULL,
    ticket_id INTEGER,
    -- 'queued', 'sent', 'failed'
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at INTEGER,
    created_at INTEGER NOT NULL,
    sent_at INTEGER
);
-- The sender's scan: queued rows by due time.
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE status = 'queued';
CREATE INDEX mail_outbox_shop ON mail_outbox (shop_id, id);
CREATE INDEX mail_outbox_ticket ON mail_outbox (ticket_id, id) WHERE ticket_id IS NOT NULL;
