-- Outbound e-mail. A shop's SMTP settings (one row a shop; the password is a credential the server
-- must replay to the SMTP server, so it is stored as given: protect the data directory) and the
-- outbox: a mail is queued in the same commit as the change that causes it, then delivered by a
-- background sender that claims due rows with a lease (next_attempt_at) and retries with back-off.
CREATE TABLE mail_settings (
    shop_id BIGINT PRIMARY KEY REFERENCES shops(id),
    enabled BOOLEAN NOT NULL DEFAULT FALSE,
    host TEXT NOT NULL DEFAULT '',
    port BIGINT NOT NULL DEFAULT 587,
    security TEXT NOT NULL DEFAULT 'starttls',
    username TEXT NOT NULL DEFAULT '',
    password TEXT NOT NULL DEFAULT '',
    from_address TEXT NOT NULL DEFAULT '',
    from_name TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);

CREATE TABLE mail_outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    to_address TEXT NOT NULL,
    to_name TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    -- what caused it: 'ticket_reply', 'test'
    kind TEXT NOT NULL,
    ticket_id BIGINT,
    -- 'queued', 'sent', 'failed'
    status TEXT NOT NULL DEFAULT 'queued',
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at BIGINT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
-- The sender's scan: queued rows by due time.
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE status = 'queued';
CREATE INDEX mail_outbox_shop ON mail_outbox (shop_id, id);
CREATE INDEX mail_outbox_ticket ON mail_outbox (ticket_id, id) WHERE ticket_id IS NOT NULL;
