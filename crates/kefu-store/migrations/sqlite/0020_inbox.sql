-- The inbox (kefu_core::inbox): the shopper's last message and since when they wait, for the
-- conversation list and its "longest wait first" order; the order and product a conversation is
-- about (no foreign keys: orders and products belong to the commerce area, and a stale id is
-- only ever read joined with the conversation's shop and customer).
ALTER TABLE conversations ADD COLUMN last_customer_message_preview TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN waiting_since INTEGER;
ALTER TABLE conversations ADD COLUMN current_order_id INTEGER;
ALTER TABLE conversations ADD COLUMN current_product_id INTEGER;
-- "Longest wait first" is a range over the conversations that wait, oldest first.
CREATE INDEX conversations_waiting ON conversations (shop_id, waiting_since, id)
    WHERE waiting_since IS NOT NULL;

-- The widget's look (kefu_core::model::WidgetStyle as JSON; '{}' = the defaults).
ALTER TABLE shops ADD COLUMN widget_style TEXT NOT NULL DEFAULT '{}';

-- Existing conversations: the shopper's last message (its first line, 80 characters, as
-- kefu_core::model::preview cuts it) and, unless resolved, their oldest message after the last
-- public agent reply.
UPDATE conversations SET last_customer_message_preview = COALESCE((
    SELECT substr(CASE WHEN instr(m.body, char(10)) > 0
                       THEN rtrim(substr(m.body, 1, instr(m.body, char(10)) - 1), char(13))
                       ELSE m.body END, 1, 80)
    FROM messages m
    WHERE m.conversation_id = conversations.id AND m.sender_type = 'customer'
    ORDER BY m.seq DESC LIMIT 1), '');
UPDATE conversations SET waiting_since = (
    SELECT MIN(m.created_at) FROM messages m
    WHERE m.conversation_id = conversations.id AND m.sender_type = 'customer'
      AND m.seq > COALESCE((SELECT MAX(a.seq) FROM messages a
                            WHERE a.conversation_id = conversations.id
                              AND a.sender_type = 'agent' AND NOT a.private), 0))
WHERE status <> 'resolved';
