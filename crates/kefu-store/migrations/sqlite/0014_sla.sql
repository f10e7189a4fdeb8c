-- SLA policies, business calendars, per-ticket SLA clocks, escalation notifications and ticket
-- automation rules (issue 5; the ticket core is migration 0013).

-- A shop's business calendars (kefu_core::business_hours::CalendarSpec as JSON, read whole). The
-- default one is seeded lazily on the shop's first read; exactly one per shop is the default.
CREATE TABLE business_calendars (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (shop_id, name)
);
CREATE UNIQUE INDEX business_calendars_default ON business_calendars (shop_id) WHERE is_default = 1;

-- SLA policies: the validated input as JSON (`doc`, always read whole per shop); the calendar is a
-- real column so a calendar in use cannot be deleted.
CREATE TABLE sla_policies (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    position INTEGER NOT NULL,
    calendar_id INTEGER NOT NULL REFERENCES business_calendars(id),
    doc TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX sla_policies_shop ON sla_policies (shop_id, position, id);

-- One row per ticket and metric. The clock itself is (target_ms, used_ms, running_since, met_at);
-- due_at / warn_at are derived from it and the calendar whenever it changes, so the escalation
-- scan and the list filters are index range scans. warned_at / escalated_at are the claims that
-- make each warning and each breach escalation fire once, whatever number of nodes scan.
CREATE TABLE ticket_sla_clocks (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    metric TEXT NOT NULL,
    policy_id INTEGER NOT NULL,
    target_ms INTEGER NOT NULL,
    used_ms INTEGER NOT NULL,
    running_since INTEGER,
    met_at INTEGER,
    due_at INTEGER,
    warn_at INTEGER,
    warned_at INTEGER,
    breached_at INTEGER,
    escalated_at INTEGER,
    updated_at INTEGER NOT NULL,
    UNIQUE (ticket_id, metric)
);
CREATE INDEX ticket_sla_clocks_due ON ticket_sla_clocks (due_at) WHERE escalated_at IS NULL AND due_at IS NOT NULL;
CREATE INDEX ticket_sla_clocks_warn ON ticket_sla_clocks (warn_at) WHERE warned_at IS NULL AND warn_at IS NOT NULL;
-- The open clocks in ticket order, covering what judging a clock's state needs: the SLA overview
-- (every open ticket's worst clock) walks it without touching the table or sorting.
CREATE INDEX ticket_sla_clocks_open ON ticket_sla_clocks
    (shop_id, ticket_id, running_since, due_at, warn_at, breached_at, used_ms, target_ms, met_at)
    WHERE met_at IS NULL;

-- What people are told (SLA warnings and breaches, automation notices), shown in the console's bell.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    ticket_id INTEGER REFERENCES tickets(id),
    text TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    read_at INTEGER
);
CREATE INDEX notifications_user ON notifications (user_id, read_at, id);

-- Ticket automation rules: the validated input as JSON, read whole per shop.
CREATE TABLE automation_rules (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    position INTEGER NOT NULL,
    doc TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX automation_rules_shop ON automation_rules (shop_id, position, id);
