-- Rich messages (product and order cards) and payment reminders (催付).
-- The new message columns have defaults, so the shopper hot path (always text) names neither.
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'text';
-- A card's snapshot as JSON text (never queried into, only shown; TEXT like SQLite keeps one
-- code path); NULL for text. A constant default makes the ALTER instant (no table rewrite).
ALTER TABLE messages ADD COLUMN payload TEXT;

CREATE TABLE reminder_settings (
    shop_id BIGINT PRIMARY KEY REFERENCES shops(id),
    consult_window_hours BIGINT NOT NULL DEFAULT 72,
    outcome_hours BIGINT NOT NULL DEFAULT 24,
    product_url_template TEXT NOT NULL DEFAULT '',
    order_url_template TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);

CREATE TABLE reminder_templates (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (shop_id, name)
);
-- At most one default template per shop.
CREATE UNIQUE INDEX reminder_templates_default ON reminder_templates (shop_id) WHERE is_default;

-- One row per reminder sent. The outcome is not stored: it is judged from orders.paid_at on read.
CREATE TABLE reminders (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    order_id BIGINT NOT NULL REFERENCES orders(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    -- the reminder's text message (the order card follows it)
    message_id BIGINT NOT NULL REFERENCES messages(id),
    agent_id BIGINT REFERENCES users(id),
    agent_name TEXT NOT NULL,
    -- a snapshot: the template may be edited or deleted later
    template_id BIGINT,
    body TEXT NOT NULL,
    forced BOOLEAN NOT NULL DEFAULT FALSE,
    sent_at BIGINT NOT NULL
);
CREATE INDEX reminders_shop_sent ON reminders (shop_id, sent_at);
CREATE INDEX reminders_order ON reminders (order_id, sent_at);
