-- Tickets and complaints (issue 5): categories, tickets with their thread, links, tags, audit,
-- compensations, attachments, custom field definitions and saved views.

-- A shop's ticket categories, two levels (a parent and its sub-categories). `key` is stable (SLA
-- policies and reports match on it); `is_complaint` marks categories whose tickets need root
-- causes and a handling result before they may be resolved.
CREATE TABLE ticket_categories (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    parent_id BIGINT REFERENCES ticket_categories(id),
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    position BIGINT NOT NULL DEFAULT 0,
    is_complaint BOOLEAN NOT NULL DEFAULT FALSE,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (shop_id, key)
);
CREATE INDEX ticket_categories_parent ON ticket_categories (parent_id);

-- Shops whose default complaint categories were seeded (once: deleting them must not bring them back).
CREATE TABLE ticket_category_libraries (
    shop_id BIGINT PRIMARY KEY REFERENCES shops(id),
    seeded_at BIGINT NOT NULL
);

-- The per-shop ticket number sequence (T-000123).
CREATE TABLE ticket_counters (
    shop_id BIGINT PRIMARY KEY REFERENCES shops(id),
    last_number BIGINT NOT NULL
);

CREATE TABLE tickets (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    number BIGINT NOT NULL,
    subject TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    customer_id BIGINT REFERENCES customers(id),
    category_id BIGINT REFERENCES ticket_categories(id),
    -- low | normal | high | urgent
    priority TEXT NOT NULL,
    -- new | open | pending_customer | pending_third_party | resolved | closed
    status TEXT NOT NULL,
    assignee_id BIGINT REFERENCES users(id),
    team_id BIGINT REFERENCES teams(id),
    -- console | conversation | api | widget
    channel TEXT NOT NULL,
    -- a JSON object: custom field key -> value
    custom_fields TEXT NOT NULL DEFAULT '{}',
    -- sorted tag names as a JSON array (kept with the row so reads need no join; ticket_tags filters)
    tags TEXT NOT NULL DEFAULT '[]',
    -- a JSON array of root-cause tags (complaints)
    root_causes TEXT NOT NULL DEFAULT '[]',
    -- 处理结果
    handling_result TEXT,
    merged_into_id BIGINT REFERENCES tickets(id),
    -- the agent who created it; NULL when the shopper (widget) or an automation did
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    first_public_reply_at BIGINT,
    resolved_at BIGINT,
    closed_at BIGINT,
    UNIQUE (shop_id, number)
);
-- Filtered lists, newest change first, keyset-paged by (updated_at, id) or (created_at, id).
CREATE INDEX tickets_shop_updated ON tickets (shop_id, updated_at, id);
CREATE INDEX tickets_shop_created ON tickets (shop_id, created_at, id);
CREATE INDEX tickets_shop_status ON tickets (shop_id, status, updated_at, id);
CREATE INDEX tickets_shop_assignee ON tickets (shop_id, assignee_id, status, updated_at, id);
CREATE INDEX tickets_shop_team ON tickets (shop_id, team_id, updated_at, id);
CREATE INDEX tickets_shop_category ON tickets (shop_id, category_id, updated_at, id);
CREATE INDEX tickets_shop_customer ON tickets (shop_id, customer_id, created_at, id);
CREATE INDEX tickets_merged_into ON tickets (merged_into_id) WHERE merged_into_id IS NOT NULL;

-- Conversations, orders and (later) calls a ticket is about.
CREATE TABLE ticket_links (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    -- conversation | order | call
    kind TEXT NOT NULL,
    ref_id BIGINT NOT NULL,
    -- what people read: the order number, the conversation's customer …
    label TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    UNIQUE (ticket_id, kind, ref_id)
);
CREATE INDEX ticket_links_ref ON ticket_links (shop_id, kind, ref_id);

CREATE TABLE ticket_tags (
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    tag TEXT NOT NULL,
    PRIMARY KEY (ticket_id, tag)
);
CREATE INDEX ticket_tags_shop_tag ON ticket_tags (shop_id, tag, ticket_id);

-- The thread: public replies (the shopper sees them), internal notes, the shopper's replies and
-- system entries (e.g. the transcript of the conversation a ticket was created from).
CREATE TABLE ticket_entries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    -- public | note | customer | system
    kind TEXT NOT NULL,
    -- agent | customer | system
    author_type TEXT NOT NULL,
    author_id BIGINT,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ticket_entries_ticket ON ticket_entries (ticket_id, id);

-- Files of tickets (photos of a damaged parcel …), stored like chat attachments (content-addressed
-- under <data-dir>/attachments). Uploaded first (ticket_id NULL, owned by the uploader), bound to a
-- ticket and an entry when the ticket or reply that carries them is stored.
CREATE TABLE ticket_attachments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    ticket_id BIGINT REFERENCES tickets(id),
    entry_id BIGINT REFERENCES ticket_entries(id),
    -- customer | agent
    uploader_type TEXT NOT NULL,
    uploader_id BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    mime TEXT NOT NULL,
    size BIGINT NOT NULL,
    width BIGINT,
    height BIGINT,
    has_thumb BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE INDEX ticket_attachments_ticket ON ticket_attachments (ticket_id, id);
CREATE INDEX ticket_attachments_entry ON ticket_attachments (entry_id);

-- Every change of a ticket: who, which field, from what to what, when.
CREATE TABLE ticket_audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    -- agent | customer | system
    actor_type TEXT NOT NULL,
    actor_id BIGINT,
    field TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX ticket_audit_ticket ON ticket_audit (ticket_id, id);

CREATE TABLE ticket_compensations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    -- refund | coupon | gift | reshipment | apology_call
    kind TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    currency TEXT NOT NULL,
    cost_cents BIGINT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX ticket_compensations_ticket ON ticket_compensations (ticket_id, id);
CREATE INDEX ticket_compensations_shop ON ticket_compensations (shop_id, created_at);

-- The shop's custom ticket fields.
CREATE TABLE ticket_field_defs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    key TEXT NOT NULL,
    label TEXT NOT NULL,
    -- text | number | select | date | checkbox
    kind TEXT NOT NULL,
    -- a JSON array of strings (select)
    options TEXT NOT NULL DEFAULT '[]',
    required BOOLEAN NOT NULL DEFAULT FALSE,
    position BIGINT NOT NULL DEFAULT 0,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    UNIQUE (shop_id, key)
);

-- An agent's saved ticket views (name + filter).
CREATE TABLE ticket_views (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    agent_id BIGINT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    -- a JSON object with the list filters
    filters TEXT NOT NULL DEFAULT '{}',
    position BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (agent_id, name)
);
