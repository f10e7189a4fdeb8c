-- After-sales requests (售后: returns, exchanges, refunds tied to order lines) and negative reviews
-- (中差评) with their follow-up tasks. Times are ms since the epoch, money integer cents.

-- The shop's running request number (AS-000042): one row per shop, bumped with
-- INSERT … ON CONFLICT … RETURNING inside the request's write.
CREATE TABLE aftersales_counters (
    shop_id INTEGER PRIMARY KEY REFERENCES shops(id),
    last_no INTEGER NOT NULL
);

CREATE TABLE aftersales_requests (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    number INTEGER NOT NULL,
    order_id INTEGER NOT NULL REFERENCES orders(id),
    -- the order's buyer when the request was made (moves with customer merges)
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    -- return | exchange | refund
    kind TEXT NOT NULL,
    -- kefu_core::aftersales::State
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    refundable_cents INTEGER NOT NULL,
    refunded_cents INTEGER NOT NULL DEFAULT 0,
    -- the Decision as JSON (NULL until decided)
    decision TEXT,
    -- shop | customer (NULL when nothing comes back)
    return_shipping_paid_by TEXT,
    return_carrier TEXT,
    return_tracking_no TEXT,
    reship_carrier TEXT,
    reship_tracking_no TEXT,
    inspection_passed INTEGER,
    inspection_note TEXT,
    -- the refund recorded on the order when the refund was issued
    refund_id INTEGER REFERENCES refunds(id),
    conversation_id INTEGER REFERENCES conversations(id),
    -- No foreign key: the tickets table belongs to the tickets area, which migrates separately;
    -- the id is kept as given so requests can be linked before or after it lands.
    ticket_id INTEGER,
    assignee_id INTEGER REFERENCES users(id),
    created_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    closed_at INTEGER,
    UNIQUE (shop_id, number)
);
-- The list: newest first with keyset paging, optionally by state.
CREATE INDEX aftersales_recent ON aftersales_requests (shop_id, created_at, id);
CREATE INDEX aftersales_state ON aftersales_requests (shop_id, state, created_at, id);
CREATE INDEX aftersales_customer ON aftersales_requests (shop_id, customer_id, created_at);
-- Line planning reads an order's open requests.
CREATE INDEX aftersales_order ON aftersales_requests (order_id);

CREATE TABLE aftersales_lines (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    request_id INTEGER NOT NULL REFERENCES aftersales_requests(id),
    -- the order line by number (order_items rows are re-written when an order is re-imported)
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL,
    refundable_cents INTEGER NOT NULL,
    UNIQUE (request_id, line_no)
);

CREATE TABLE aftersales_history (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    request_id INTEGER NOT NULL REFERENCES aftersales_requests(id),
    -- create | an action name | assign | evidence
    action TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    actor_id INTEGER REFERENCES users(id),
    actor_name TEXT NOT NULL,
    -- the step's values as JSON
    detail TEXT NOT NULL DEFAULT '{}',
    at INTEGER NOT NULL
);
CREATE INDEX aftersales_history_request ON aftersales_history (request_id, id);

-- Evidence photos: the bytes live with the chat attachments (<data-dir>/attachments/, by SHA-256).
CREATE TABLE aftersales_evidence (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    request_id INTEGER NOT NULL REFERENCES aftersales_requests(id),
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    mime TEXT NOT NULL,
    size INTEGER NOT NULL,
    width INTEGER,
    height INTEGER,
    has_thumb INTEGER NOT NULL DEFAULT 0,
    uploaded_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL
);
CREATE INDEX aftersales_evidence_request ON aftersales_evidence (request_id, id);

CREATE TABLE review_settings (
    shop_id INTEGER PRIMARY KEY REFERENCES shops(id),
    low_rating_threshold INTEGER NOT NULL DEFAULT 3,
    followup_hours INTEGER NOT NULL DEFAULT 24,
    updated_at INTEGER NOT NULL
);

CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    -- the shop's own id of the review: the idempotency key of every import
    external_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    rating INTEGER NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    order_no TEXT,
    order_id INTEGER REFERENCES orders(id),
    customer_id INTEGER REFERENCES customers(id),
    reviewed_at INTEGER NOT NULL,
    imported_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (shop_id, external_id)
);
CREATE INDEX reviews_recent ON reviews (shop_id, reviewed_at, id);
CREATE INDEX reviews_customer ON reviews (shop_id, customer_id);

CREATE TABLE review_followups (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    review_id INTEGER NOT NULL UNIQUE REFERENCES reviews(id),
    -- open | resolved | review_revised | no_response
    status TEXT NOT NULL,
    assignee_id INTEGER REFERENCES users(id),
    due_at INTEGER NOT NULL,
    outcome_note TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    closed_at INTEGER,
    closed_by INTEGER REFERENCES users(id)
);
-- The queue: soonest due first (the overdue lead), by status.
CREATE INDEX review_followups_queue ON review_followups (shop_id, status, due_at, id);
