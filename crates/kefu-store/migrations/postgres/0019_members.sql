-- Members and teams managed in the product (issue 19): deactivation, temporary passwords, a
-- member in several teams, and the audit of every change to members and teams.

-- NULL while the account is active; when set, it cannot sign in and gets no conversations.
ALTER TABLE users ADD COLUMN deactivated_at BIGINT;
-- Set by a temporary password: the member must choose their own before anything else.
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;

-- Every team whose queue a member serves. users.team_id stays the main team (a conversation
-- assigned to the member moves to it) and is always one of these.
CREATE TABLE user_teams (
    user_id BIGINT NOT NULL REFERENCES users(id),
    team_id BIGINT NOT NULL REFERENCES teams(id),
    PRIMARY KEY (user_id, team_id)
);
CREATE INDEX user_teams_team ON user_teams (team_id, user_id);
INSERT INTO user_teams (user_id, team_id) SELECT id, team_id FROM users WHERE team_id IS NOT NULL;

-- Ending every session of a member (deactivation, password reset) finds them by user.
CREATE INDEX sessions_user ON sessions (user_id);

-- Who changed which member or team, when, and the fields before and after (JSON; never a
-- password). actor_name and target_name keep the names as they were.
CREATE TABLE member_audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    actor_id BIGINT NOT NULL REFERENCES users(id),
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id BIGINT NOT NULL,
    target_name TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX member_audit_shop ON member_audit (shop_id, id);
CREATE INDEX member_audit_target ON member_audit (shop_id, target_type, target_id, id);
