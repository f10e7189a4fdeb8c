-- Commerce: the catalogue grows (category, images, status), orders with their lines, shipments with
-- their status events, refunds, and the signed inbound webhooks (per-shop secret, seen deliveries).
-- Money is integer minor units (`*_cents`) with a currency code; times are ms since the epoch.
-- The table and column names below are a contract other areas (segments, cards, reminders,
-- customer timeline) write SQL against: add, never rename.

ALTER TABLE products ADD COLUMN category TEXT NOT NULL DEFAULT '';
-- A JSON array of image URLs; `image_url` (spine) keeps the first one.
ALTER TABLE products ADD COLUMN images TEXT NOT NULL DEFAULT '[]';
-- active | inactive
ALTER TABLE products ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE products ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX products_shop_name ON products (shop_id, name);

-- Buyer resolution (order → customer) looks customers up by these, in this order.
CREATE INDEX IF NOT EXISTS customers_commerce_external ON customers (shop_id, external_id);
CREATE INDEX IF NOT EXISTS customers_commerce_phone ON customers (shop_id, phone);
CREATE INDEX IF NOT EXISTS customers_commerce_email ON customers (shop_id, email);

CREATE TABLE orders (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    -- the shop's own order number: the idempotency key of every ingest path
    order_no TEXT NOT NULL,
    -- created | paid | shipped | delivered | completed | cancelled
    status TEXT NOT NULL,
    -- unpaid | paid | partially_refunded | refunded
    payment_status TEXT NOT NULL,
    currency TEXT NOT NULL,
    items_cents BIGINT NOT NULL,
    discount_cents BIGINT NOT NULL DEFAULT 0,
    shipping_fee_cents BIGINT NOT NULL DEFAULT 0,
    -- items − discount + shipping: what the buyer pays
    total_cents BIGINT NOT NULL,
    -- sum of the order's refunds in status `refunded`
    refunded_cents BIGINT NOT NULL DEFAULT 0,
    placed_at BIGINT NOT NULL,
    paid_at BIGINT,
    shipped_at BIGINT,
    delivered_at BIGINT,
    receiver_name TEXT NOT NULL DEFAULT '',
    receiver_phone TEXT NOT NULL DEFAULT '',
    receiver_address TEXT NOT NULL DEFAULT '',
    -- digest of the last ingested order document: a re-send with the same content is `unchanged`
    -- and writes nothing
    content_hash TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (shop_id, order_no)
);
-- The sidebar's recent orders of one customer (newest first) and per-customer metrics.
CREATE INDEX orders_customer ON orders (shop_id, customer_id, placed_at, id);
-- Payment reminders: unpaid orders by time.
CREATE INDEX orders_payment ON orders (shop_id, payment_status, placed_at);
-- The orders list: newest first with keyset pagination.
CREATE INDEX orders_recent ON orders (shop_id, placed_at, id);

CREATE TABLE order_items (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    order_id BIGINT NOT NULL REFERENCES orders(id),
    line_no BIGINT NOT NULL,
    sku TEXT NOT NULL,
    product_id BIGINT REFERENCES products(id),
    name TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    unit_price_cents BIGINT NOT NULL,
    total_cents BIGINT NOT NULL,
    UNIQUE (order_id, line_no)
);

CREATE TABLE shipments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    order_id BIGINT NOT NULL REFERENCES orders(id),
    carrier TEXT NOT NULL,
    tracking_no TEXT NOT NULL,
    -- pending | in_transit | out_for_delivery | delivered | exception | returned
    status TEXT NOT NULL,
    shipped_at BIGINT,
    delivered_at BIGINT,
    updated_at BIGINT NOT NULL,
    UNIQUE (shop_id, carrier, tracking_no)
);
CREATE INDEX shipments_order ON shipments (order_id, id);

CREATE TABLE shipment_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    shipment_id BIGINT NOT NULL REFERENCES shipments(id),
    at BIGINT NOT NULL,
    status TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    location TEXT NOT NULL DEFAULT '',
    -- the same event sent twice (re-import, webhook retry) is stored once
    UNIQUE (shipment_id, at, status, description)
);

CREATE TABLE refunds (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    order_id BIGINT NOT NULL REFERENCES orders(id),
    refund_no TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    -- requested | approved | rejected | refunded
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    refunded_at BIGINT,
    UNIQUE (shop_id, refund_no)
);
CREATE INDEX refunds_order ON refunds (order_id, id);

-- The per-shop secret inbound commerce webhooks are signed with (HMAC-SHA256).
CREATE TABLE commerce_webhook_secrets (
    shop_id BIGINT PRIMARY KEY REFERENCES shops(id),
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Deliveries already applied: the same event id or the same signature again is a replay.
CREATE TABLE commerce_webhook_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    event_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    event_type TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    UNIQUE (shop_id, event_id),
    UNIQUE (shop_id, signature)
);
