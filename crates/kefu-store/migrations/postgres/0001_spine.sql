-- The spine: shops, teams, accounts, sessions, shoppers, conversations, messages, products.
-- Times are milliseconds since the Unix epoch (BIGINT), the same as in SQLite.

CREATE TABLE shops (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    greeting TEXT NOT NULL,
    offline_message TEXT NOT NULL,
    default_max_concurrent BIGINT NOT NULL DEFAULT 8,
    created_at BIGINT NOT NULL
);

CREATE TABLE teams (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    UNIQUE (shop_id, name)
);

CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'offline',
    team_id BIGINT REFERENCES teams(id),
    max_concurrent BIGINT,
    last_assigned_at BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX users_shop ON users (shop_id, status);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE customers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    external_id TEXT,
    blocked BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE INDEX customers_shop ON customers (shop_id, id);

CREATE TABLE visitor_tokens (
    token_hash TEXT PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    created_at BIGINT NOT NULL
);

CREATE TABLE conversations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    status TEXT NOT NULL,
    assignee_id BIGINT REFERENCES users(id),
    team_id BIGINT REFERENCES teams(id),
    last_seq BIGINT NOT NULL DEFAULT 0,
    last_message_at BIGINT NOT NULL,
    last_message_preview TEXT NOT NULL DEFAULT '',
    unread_count BIGINT NOT NULL DEFAULT 0,
    customer_read_seq BIGINT NOT NULL DEFAULT 0,
    agent_read_seq BIGINT NOT NULL DEFAULT 0,
    -- set while the conversation waits for an agent; NULL once assigned or not open
    queued_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX conversations_shop_activity ON conversations (shop_id, last_message_at);
CREATE INDEX conversations_customer ON conversations (customer_id, id);
CREATE INDEX conversations_assignee ON conversations (assignee_id, status);
CREATE INDEX conversations_queue ON conversations (shop_id, queued_at, id);

CREATE TABLE messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    seq BIGINT NOT NULL,
    sender_type TEXT NOT NULL,
    sender_id BIGINT,
    sender_name TEXT NOT NULL,
    body TEXT NOT NULL,
    private BOOLEAN NOT NULL DEFAULT FALSE,
    client_msg_id TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (conversation_id, seq)
);
-- A retry from the same sender with the same client_msg_id finds the original.
CREATE UNIQUE INDEX messages_idempotency ON messages (sender_type, sender_id, client_msg_id);

CREATE TABLE products (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    price_cents BIGINT NOT NULL,
    currency TEXT NOT NULL,
    image_url TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    UNIQUE (shop_id, sku)
);
