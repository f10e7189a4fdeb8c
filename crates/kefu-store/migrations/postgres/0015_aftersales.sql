-- After-sales requests (售后: returns, exchanges, refunds tied to order lines) and negative reviews
-- (中差评) with their follow-up tasks. Times are ms since the epoch, money integer cents.

-- The shop's running request number (AS-000042): one row per shop, bumped with
-- INSERT … ON CONFLICT … RETURNING inside the request's write.
CREATE TABLE aftersales_counters (
    shop_id BIGINT PRIMARY KEY REFERENCES shops(id),
    last_no BIGINT NOT NULL
);

CREATE TABLE aftersales_requests (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    number BIGINT NOT NULL,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    -- the order's buyer when the request was made (moves with customer merges)
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    -- return | exchange | refund
    kind TEXT NOT NULL,
    -- kefu_core::aftersales::State
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    refundable_cents BIGINT NOT NULL,
    refunded_cents BIGINT NOT NULL DEFAULT 0,
    -- the Decision as JSON (NULL until decided)
    decision TEXT,
    -- shop | customer (NULL when nothing comes back)
    return_shipping_paid_by TEXT,
    return_carrier TEXT,
    return_tracking_no TEXT,
    reship_carrier TEXT,
    reship_tracking_no TEXT,
    inspection_passed BOOLEAN,
    inspection_note TEXT,
    -- the refund recorded on the order when the refund was issued
    refund_id BIGINT REFERENCES refunds(id),
    conversation_id BIGINT REFERENCES conversations(id),
    -- No foreign key: the tickets table belongs to the tickets area, which migrates separately;
    -- the id is kept as given so requests can be linked before or after it lands.
    ticket_id BIGINT,
    assignee_id BIGINT REFERENCES users(id),
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT,
    UNIQUE (shop_id, number)
);
-- The list: newest first with keyset paging, optionally by state.
CREATE INDEX aftersales_recent ON aftersales_requests (shop_id, created_at, id);
CREATE INDEX aftersales_state ON aftersales_requests (shop_id, state, created_at, id);
CREATE INDEX aftersales_customer ON aftersales_requests (shop_id, customer_id, created_at);
-- Line planning reads an order's open requests.
CREATE INDEX aftersales_order ON aftersales_requests (order_id);

CREATE TABLE aftersales_lines (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    request_id BIGINT NOT NULL REFERENCES aftersales_requests(id),
    -- the order line by number (order_items rows are re-written when an order is re-imported)
    line_no BIGINT NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    unit_price_cents BIGINT NOT NULL,
    refundable_cents BIGINT NOT NULL,
    UNIQUE (request_id, line_no)
);

CREATE TABLE aftersales_history (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    request_id BIGINT NOT NULL REFERENCES aftersales_requests(id),
    -- create | an action name | assign | evidence
    action TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    actor_id BIGINT REFERENCES users(id),
    actor_name TEXT NOT NULL,
    -- the step's values as JSON
    detail TEXT NOT NULL DEFAULT '{}',
    at BIGINT NOT NULL
);
CREATE INDEX aftersales_history_request ON aftersales_history (request_id, id);

-- Evidence photos: the bytes live with the chat attachments (<data-dir>/attachments/, by SHA-256).
CREATE TABLE aftersales_evidence (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    request_id BIGINT NOT NULL REFERENCES aftersales_requests(id),
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    mime TEXT NOT NULL,
    size BIGINT NOT NULL,
    width BIGINT,
    height BIGINT,
    has_thumb BOOLEAN NOT NULL DEFAULT FALSE,
    uploaded_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX aftersales_evidence_request ON aftersales_evidence (request_id, id);

CREATE TABLE review_settings (
    shop_id BIGINT PRIMARY KEY REFERENCES shops(id),
    low_rating_threshold BIGINT NOT NULL DEFAULT 3,
    followup_hours BIGINT NOT NULL DEFAULT 24,
    updated_at BIGINT NOT NULL
);

CREATE TABLE reviews (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    -- the shop's own id of the review: the idempotency key of every import
    external_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    rating BIGINT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    order_no TEXT,
    order_id BIGINT REFERENCES orders(id),
    customer_id BIGINT REFERENCES customers(id),
    reviewed_at BIGINT NOT NULL,
    imported_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (shop_id, external_id)
);
CREATE INDEX reviews_recent ON reviews (shop_id, reviewed_at, id);
CREATE INDEX reviews_customer ON reviews (shop_id, customer_id);

CREATE TABLE review_followups (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    review_id BIGINT NOT NULL UNIQUE REFERENCES reviews(id),
    -- open | resolved | review_revised | no_response
    status TEXT NOT NULL,
    assignee_id BIGINT REFERENCES users(id),
    due_at BIGINT NOT NULL,
    outcome_note TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT,
    closed_by BIGINT REFERENCES users(id)
);
-- The queue: soonest due first (the overdue lead), by status.
CREATE INDEX review_followups_queue ON review_followups (shop_id, status, due_at, id);
