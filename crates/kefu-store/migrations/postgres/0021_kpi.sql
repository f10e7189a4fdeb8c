-- Agent KPIs (issue 17): the desk's append-only event log and the shop's attribution settings.
-- Messages, orders and reminders are already stored by their areas; these events are what no other
-- table keeps (a conversation starting, being assigned or transferred, a bot hand-off, a status
-- change, an agent's presence). Each is written in the same transaction as the change it records
-- (kefu-store's areas/kpi.rs::record_event); kinds are kefu_core::kpi::DeskEventKind.
CREATE TABLE desk_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    -- NULL for events of an agent (presence)
    conversation_id BIGINT,
    -- the new assignee, or the agent whose presence changed
    agent_id BIGINT,
    previous_agent_id BIGINT,
    team_id BIGINT,
    -- who made the change when a person did; NULL for the shopper, routing and timers
    actor_id BIGINT,
    -- the conversation's last message seq at the event (for `started`, the starting message)
    seq BIGINT,
    value TEXT NOT NULL DEFAULT '',
    detail TEXT
);
-- Sessions (and later presence) of a range.
CREATE INDEX desk_events_shop_kind ON desk_events (shop_id, kind, at);
-- A conversation's events in order: its sessions' ends, last assignee, bot hand-offs.
CREATE INDEX desk_events_conversation ON desk_events (conversation_id, id);

-- Agents' public replies of a range, the starting point of every message figure. Partial: the
-- shopper's message path (most inserts) never touches it.
CREATE INDEX messages_agent_time ON messages (shop_id, created_at) WHERE sender_type = 'agent';

CREATE TABLE kpi_settings (
    shop_id BIGINT PRIMARY KEY REFERENCES shops(id),
    window_days BIGINT NOT NULL,
    attribution TEXT NOT NULL,
    reminder_orders TEXT NOT NULL,
    slow_response_seconds BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Conversations from before the log: one session from their creation, and their current
-- assignee from then on (the best that can be known now).
INSERT INTO desk_events (shop_id, at, kind, conversation_id, seq, value)
SELECT shop_id, created_at, 'started', id, 0, 'new' FROM conversations ORDER BY id;
INSERT INTO desk_events (shop_id, at, kind, conversation_id, agent_id, team_id, seq)
SELECT shop_id, created_at, 'assigned', id, assignee_id, team_id, 0 FROM conversations
WHERE assignee_id IS NOT NULL ORDER BY id;
