-- Service scripts (话术): categories, scripts (shop-wide or personal) and their uses.

CREATE TABLE script_categories (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    position BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    UNIQUE (shop_id, name)
);

CREATE TABLE scripts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    -- NULL = shop-wide; an agent = that agent's personal script
    owner_id BIGINT REFERENCES users(id),
    category_id BIGINT NOT NULL REFERENCES script_categories(id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    shortcut TEXT,
    -- a JSON array of strings (only ever read whole)
    tags TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Listing a shop's library (shop-wide + one agent's) and the import's (category, title) lookup.
CREATE INDEX scripts_shop_owner ON scripts (shop_id, owner_id, category_id);
CREATE INDEX scripts_category ON scripts (category_id);
-- A shortcut is unique within its scope (the shop's scripts, or one agent's).
CREATE UNIQUE INDEX scripts_shortcut ON scripts (shop_id, COALESCE(owner_id, 0), shortcut)
    WHERE shortcut IS NOT NULL;

-- One row per message sent from a script.
CREATE TABLE script_uses (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    script_id BIGINT NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
    agent_id BIGINT NOT NULL REFERENCES users(id),
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    message_id BIGINT REFERENCES messages(id),
    used_at BIGINT NOT NULL
);
CREATE INDEX script_uses_shop_at ON script_uses (shop_id, used_at);
CREATE INDEX script_uses_script ON script_uses (script_id);

-- Shops whose default library was seeded (once: deleting every script must not bring it back).
CREATE TABLE script_libraries (
    shop_id BIGINT PRIMARY KEY REFERENCES shops(id),
    seeded_at BIGINT NOT NULL
);
