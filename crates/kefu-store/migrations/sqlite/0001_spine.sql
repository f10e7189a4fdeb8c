-- The spine: shops, teams, accounts, sessions, shoppers, conversations, messages, products.
-- Times are milliseconds since the Unix epoch (INTEGER), the same as in PostgreSQL.

CREATE TABLE shops (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    greeting TEXT NOT NULL,
    offline_message TEXT NOT NULL,
    default_max_concurrent INTEGER NOT NULL DEFAULT 8,
    created_at INTEGER NOT NULL
);

CREATE TABLE teams (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (shop_id, name)
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'offline',
    team_id INTEGER REFERENCES teams(id),
    max_concurrent INTEGER,
    last_assigned_at INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX users_shop ON users (shop_id, status);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    external_id TEXT,
    blocked INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX customers_shop ON customers (shop_id, id);

CREATE TABLE visitor_tokens (
    token_hash TEXT PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    created_at INTEGER NOT NULL
);

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    status TEXT NOT NULL,
    assignee_id INTEGER REFERENCES users(id),
    team_id INTEGER REFERENCES teams(id),
    last_seq INTEGER NOT NULL DEFAULT 0,
    last_message_at INTEGER NOT NULL,
    last_message_preview TEXT NOT NULL DEFAULT '',
    unread_count INTEGER NOT NULL DEFAULT 0,
    customer_read_seq INTEGER NOT NULL DEFAULT 0,
    agent_read_seq INTEGER NOT NULL DEFAULT 0,
    -- set while the conversation waits for an agent; NULL once assigned or not open
    queued_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX conversations_shop_activity ON conversations (shop_id, last_message_at);
CREATE INDEX conversations_customer ON conversations (customer_id, id);
CREATE INDEX conversations_assignee ON conversations (assignee_id, status);
CREATE INDEX conversations_queue ON conversations (shop_id, queued_at, id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    seq INTEGER NOT NULL,
    sender_type TEXT NOT NULL,
    sender_id INTEGER,
    sender_name TEXT NOT NULL,
    body TEXT NOT NULL,
    private INTEGER NOT NULL DEFAULT 0,
    client_msg_id TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (conversation_id, seq)
);
-- A retry from the same sender with the same client_msg_id finds the original.
CREATE UNIQUE INDEX messages_idempotency ON messages (sender_type, sender_id, client_msg_id);

CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    price_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    image_url TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    UNIQUE (shop_id, sku)
);
