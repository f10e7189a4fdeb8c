-- The agent's daily tools: conversation tags, snooze, @mentions in notes, auto-reply rules.

-- Tags shown with the conversation row are kept on it (JSON array of names, sorted), so every
-- conversation read gets them without a join; conversation_tags below is the filterable copy,
-- written in the same transaction.
ALTER TABLE conversations ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
-- When a snoozed (pending) conversation reopens by itself; NULL when not snoozed.
ALTER TABLE conversations ADD COLUMN snoozed_until BIGINT;
CREATE INDEX conversations_snoozed ON conversations (snoozed_until) WHERE snoozed_until IS NOT NULL;

-- The shop's tag vocabulary: a name is created on first use.
CREATE TABLE conversation_tag_names (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (shop_id, name)
);

CREATE TABLE conversation_tags (
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    tag_id BIGINT NOT NULL REFERENCES conversation_tag_names(id),
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, tag_id)
);
CREATE INDEX conversation_tags_tag ON conversation_tags (tag_id, conversation_id);

-- An agent mentioned in an internal note.
CREATE TABLE mentions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    message_id BIGINT NOT NULL REFERENCES messages(id),
    agent_id BIGINT NOT NULL REFERENCES users(id),
    by_agent_id BIGINT NOT NULL REFERENCES users(id),
    excerpt TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT,
    UNIQUE (message_id, agent_id)
);
CREATE INDEX mentions_agent ON mentions (agent_id, read_at, id);
CREATE INDEX mentions_conversation ON mentions (conversation_id, agent_id);

-- A shop's auto-reply rules (business hours, after-hours reply, keyword triggers) as one JSON
-- document: they are always read and edited whole.
CREATE TABLE auto_reply_rules (
    shop_id BIGINT PRIMARY KEY REFERENCES shops(id),
    rules TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- When each automatic reply was last sent in a conversation (`after_hours`, `keyword:<rule id>`):
-- the claim that keeps a reply to once per after-hours period or per cool-down.
CREATE TABLE auto_reply_log (
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    rule_key TEXT NOT NULL,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, rule_key)
);
