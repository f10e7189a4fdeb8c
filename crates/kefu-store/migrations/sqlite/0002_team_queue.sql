-- Routing reads the head of each team's waiting queue, only as far as that team has free agents.
CREATE INDEX conversations_team_queue ON conversations (shop_id, team_id, queued_at, id);
