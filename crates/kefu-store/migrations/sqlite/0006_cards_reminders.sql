-- Rich messages (product and order cards) and payment reminders (催付).
-- The new message columns have defaults, so the shopper hot path (always text) names neither.
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'text';
-- A card's snapshot as JSON text (never queried into, only shown); NULL for text.
ALTER TABLE messages ADD COLUMN payload TEXT;

CREATE TABLE reminder_settings (
    shop_id INTEGER PRIMARY KEY REFERENCES shops(id),
    consult_window_hours INTEGER NOT NULL DEFAULT 72,
    outcome_hours INTEGER NOT NULL DEFAULT 24,
    product_url_template TEXT NOT NULL DEFAULT '',
    order_url_template TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
);

CREATE TABLE reminder_templates (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (shop_id, name)
);
-- At most one default template per shop.
CREATE UNIQUE INDEX reminder_templates_default ON reminder_templates (shop_id) WHERE is_default = 1;

-- One row per reminder sent. The outcome is not stored: it is judged from orders.paid_at on read.
CREATE TABLE reminders (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    order_id INTEGER NOT NULL REFERENCES orders(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    -- the reminder's text message (the order card follows it)
    message_id INTEGER NOT NULL REFERENCES messages(id),
    agent_id INTEGER REFERENCES users(id),
    agent_name TEXT NOT NULL,
    -- a snapshot: the template may be edited or deleted later
    template_id INTEGER,
    body TEXT NOT NULL,
    forced INTEGER NOT NULL DEFAULT 0,
    sent_at INTEGER NOT NULL
);
CREATE INDEX reminders_shop_sent ON reminders (shop_id, sent_at);
CREATE INDEX reminders_order ON reminders (order_id, sent_at);
