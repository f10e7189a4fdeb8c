-- Customer information: profile columns on the spine's customers, identities, addresses, tags,
-- notes, shop-defined custom fields, profile events (timeline) and the per-shop identity secret.
-- Times are milliseconds since the Unix epoch (INTEGER), the same as in PostgreSQL.

ALTER TABLE customers ADD COLUMN source TEXT;
ALTER TABLE customers ADD COLUMN consent_sms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN consent_email INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN blocked_reason TEXT;
ALTER TABLE customers ADD COLUMN blocked_at INTEGER;
-- Set on a conversation start/reopen and on widget sessions; never per message (hot path).
ALTER TABLE customers ADD COLUMN last_contact_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
-- A merged record stays (old links answer where it went) but leaves every list.
ALTER TABLE customers ADD COLUMN merged_into INTEGER REFERENCES customers(id);
UPDATE customers SET last_contact_at = COALESCE(
    (SELECT MAX(c.created_at) FROM conversations c WHERE c.customer_id = customers.id), created_at),
    updated_at = created_at;
CREATE INDEX customers_shop_contact ON customers (shop_id, last_contact_at, id);
CREATE INDEX customers_shop_created ON customers (shop_id, created_at, id);

CREATE TABLE customer_identities (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    verified INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (customer_id, kind, value)
);
CREATE INDEX customer_identities_value ON customer_identities (shop_id, kind, value);
-- A verified phone, e-mail or external id belongs to exactly one customer of the shop.
CREATE UNIQUE INDEX customer_identities_verified ON customer_identities (shop_id, kind, value)
    WHERE verified = 1;
INSERT INTO customer_identities (shop_id, customer_id, kind, value, verified, source, created_at)
    SELECT shop_id, id, 'email', lower(trim(email)), 0, 'widget', created_at FROM customers
    WHERE email IS NOT NULL AND trim(email) <> '';
INSERT INTO customer_identities (shop_id, customer_id, kind, value, verified, source, created_at)
    SELECT shop_id, id, 'phone', trim(phone), 0, 'widget', created_at FROM customers
    WHERE phone IS NOT NULL AND trim(phone) <> '';
INSERT INTO customer_identities (shop_id, customer_id, kind, value, verified, source, created_at)
    SELECT shop_id, id, 'external_id', trim(external_id), 0, 'widget', created_at FROM customers
    WHERE external_id IS NOT NULL AND trim(external_id) <> '';

CREATE TABLE customer_addresses (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    recipient TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    region TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX customer_addresses_customer ON customer_addresses (customer_id, id);

CREATE TABLE customer_tags (
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    tag TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (customer_id, tag)
);
CREATE INDEX customer_tags_tag ON customer_tags (shop_id, tag, customer_id);

CREATE TABLE customer_notes (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    author_id INTEGER REFERENCES users(id),
    author_name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX customer_notes_customer ON customer_notes (customer_id, created_at, id);

CREATE TABLE customer_field_defs (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    key TEXT NOT NULL,
    label TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- JSON array of the choices of a select field
    options TEXT NOT NULL DEFAULT '[]',
    position INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (shop_id, key)
);

CREATE TABLE customer_field_values (
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    field_id INTEGER NOT NULL REFERENCES customer_field_defs(id),
    value TEXT NOT NULL,
    PRIMARY KEY (customer_id, field_id)
);

-- Profile events for the timeline (merged, blocked, unblocked, identity verified, conversation
-- resolved …); conversations and notes are read from their own tables.
CREATE TABLE customer_events (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    ref_type TEXT,
    ref_id INTEGER
);
CREATE INDEX customer_events_customer ON customer_events (customer_id, at, id);

-- The HMAC key shops sign shopper identities with; kept out of the shops row so no shop read
-- carries it by accident.
CREATE TABLE shop_identity_secrets (
    shop_id INTEGER PRIMARY KEY REFERENCES shops(id),
    secret TEXT NOT NULL,
    rotated_at INTEGER NOT NULL
);
