//! Members and teams: the shop's staff managed in the product (issue 19) — who may sign in, in
//! which role, serving which teams' queues, with which cap — and the audit of every change.
//!
//! This module holds the types, the pure rules (names, the password policy, temporary passwords,
//! who may demote or deactivate whom) and the [`MemberStore`] port. The flows (hashing, ending
//! sessions and sockets, re-routing a deactivated member's chats) are kefu-service's `members.rs`.

use crate::model::{AgentSummary, Conversation, Id, Message, Role, Team, User};
use crate::time::Millis;
use crate::{Error, ErrorCode, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::base::string_enum;

/// A member as the members page shows them: [`AgentSummary`] (account, teams, load, dates).
pub type Member = AgentSummary;

/// The longest member name, in characters.
pub const MAX_NAME_CHARS: usize = 50;
/// The longest team name, in characters.
pub const MAX_TEAM_NAME_CHARS: usize = 30;
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password accepted (argon2 hashes any length; this only bounds the work).
pub const MAX_PASSWORD_CHARS: usize = 128;
/// The most teams one member serves.
pub const MAX_TEAMS_PER_MEMBER: usize = 20;
/// Characters of a temporary password: letters and digits without the look-alikes (0/O, 1/l/I),
/// since an admin reads it out or copies it by hand.
const TEMPORARY_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Length of a temporary password: 14 of 56 characters, about 81 bits.
const TEMPORARY_LEN: usize = 14;

/// What a shopper reads when the agent serving them was deactivated and their chat went back to
/// the queue (a `system` message; the shop's staff language is Chinese).
pub const REQUEUED_NOTICE: &str = "抱歉，刚才为您服务的客服暂时无法继续接待，您的会话已重新排队，我们会尽快安排其他客服为您服务。";

/// A display name: trimmed, 1-50 characters, no control characters.
pub fn validate_name(field: &str, raw: &str) -> Result<String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(crate::model::is_hidden_control) || name.contains(['\n', '\r', '\t']) {
        return Err(Error::invalid(
            field,
            "must not contain control or text-direction characters",
        ));
    }
    Ok(name.to_owned())
}

/// A team name: the rules of [`validate_name`] with at most 30 characters.
pub fn validate_team_name(raw: &str) -> Result<String> {
    let name = validate_name("name", raw)?;
    if name.chars().count() > MAX_TEAM_NAME_CHARS {
        return Err(Error::invalid(
            "name",
            format!("at most {MAX_TEAM_NAME_CHARS} characters"),
        ));
    }
    Ok(name)
}

/// A member's own concurrency cap: 1-100, or `None` for the shop's default.
pub fn validate_cap(cap: Option<i64>) -> Result<()> {
    if cap.is_some_and(|n| !(1..=100).contains(&n)) {
        return Err(Error::invalid(
            "max_concurrent",
            "must be between 1 and 100, or null for the shop's default",
        ));
    }
    Ok(())
}

/// The teams a member serves: at most [`MAX_TEAMS_PER_MEMBER`], duplicates dropped, the order
/// kept (the first is the main team).
pub fn validate_team_ids(ids: &[Id]) -> Result<Vec<Id>> {
    let mut out: Vec<Id> = Vec::with_capacity(ids.len());
    for &id in ids {
        if id <= 0 {
            return Err(Error::invalid("team_ids", "must be a positive id"));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    if out.len() > MAX_TEAMS_PER_MEMBER {
        return Err(Error::invalid(
            "team_ids",
            format!("at most {MAX_TEAMS_PER_MEMBER}"),
        ));
    }
    Ok(out)
}

/// The password policy for every password a person chooses: at least 8 characters (at most 128),
/// not only digits, and not the account's e-mail address (nor its part before the `@`).
/// `field` names the request field (`password`, `new_password`).
pub fn check_password(field: &str, password: &str, email: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(
            field,
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    if password.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::invalid(field, "must not be only digits"));
    }
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    let lowered = password.trim().to_lowercase();
    if lowered == email || (!local.is_empty() && lowered == local) {
        return Err(Error::invalid(field, "must not be the e-mail address"));
    }
    if is_guessable_password(&lowered) {
        return Err(Error::invalid(field, "is too common to be safe"));
    }
    Ok(())
}

/// Words that head the lists of leaked passwords, in China and elsewhere: a password that is one
/// of them, perhaps with a few digits or symbols around it, is among the first an attacker tries.
const GUESSED_WORDS: &[&str] = &[
    "password",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "pass",
    "admin",
    "administrator",
    "root",
    "qwerty",
    "qwertyuiop",
    "asdfgh",
    "asdfghjkl",
    "zxcvbn",
    "zxcvbnm",
    "1qaz2wsx",
    "qazwsx",
    "1q2w3e4r",
    "1q2w3e",
    "q1w2e3r4",
    "iloveyou",
    "woaini",
    "aini",
    "wodemima",
    "mima",
    "abc",
    "abcd",
    "abcde",
    "abcdef",
    "abcdefg",
    "abcdefgh",
    "abcabc",
    "aaa",
    "letmein",
    "welcome",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "master",
    "shadow",
    "superman",
    "trustno1",
    "hello",
    "helloworld",
    "test",
    "guest",
    "user",
    "changeme",
    "default",
    "secret",
    "kefu",
    "kefu@",
    "service",
    "taobao",
    "tmall",
    "jingdong",
    "jd",
    "alipay",
    "wechat",
    "weixin",
    "qq",
    "huawei",
    "xiaomi",
    "apple",
    "iphone",
    "china",
    "beijing",
    "shanghai",
];

/// Whether a (lower-cased) password is one attackers guess first: a run of one character, a
/// straight or keyboard sequence, or a [`GUESSED_WORDS`] word with at most six digits or symbols
/// before or after it (`admin123`, `woaini1314`, `!qwerty2024`). Digits-only passwords are refused
/// by their own rule. There is no downloaded breach list: nothing may download at run time, and
/// these shapes cover the heads of such lists.
pub fn is_guessable_password(lowered: &str) -> bool {
    let chars: Vec<char> = lowered.chars().collect();
    if chars.len() > 1 && chars.iter().all(|c| *c == chars[0]) {
        return true;
    }
    if is_sequence(&chars) {
        return true;
    }
    let is_filler = |c: char| c.is_ascii_digit() || c.is_ascii_punctuation();
    let core = lowered.trim_matches(is_filler);
    let stripped = lowered.chars().count() - core.chars().count();
    GUESSED_WORDS.contains(&lowered)
        || ((core.is_empty()
            || GUESSED_WORDS.contains(&core)
            || is_sequence(&core.chars().collect::<Vec<_>>()))
            && stripped <= 6)
}

/// A run of at least six characters stepping by one (`abcdefgh`, `87654321`) or along a keyboard
/// row (`qwertyui`, `asdfghjk`).
fn is_sequence(chars: &[char]) -> bool {
    if chars.len() < 6 {
        return false;
    }
    let steps_by = |d: i32| chars.windows(2).all(|w| w[1] as i32 - w[0] as i32 == d);
    if steps_by(1) || steps_by(-1) {
        return true;
    }
    const ROWS: &[&str] = &["qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890"];
    let text: String = chars.iter().collect();
    let reversed: String = chars.iter().rev().collect();
    ROWS.iter()
        .any(|row| row.contains(text.as_str()) || row.contains(reversed.as_str()))
}

/// A new random temporary password, shown once to the admin who asked for it. It always holds
/// a letter and a digit and is never guessable, so it passes [`check_password`] for any e-mail.
pub fn temporary_password() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    loop {
        let p: String = (0..TEMPORARY_LEN)
            .map(|_| TEMPORARY_ALPHABET[rng.random_range(0..TEMPORARY_ALPHABET.len())] as char)
            .collect();
        if p.chars().any(|c| c.is_ascii_digit())
            && p.chars().any(|c| c.is_ascii_alphabetic())
            && !is_guessable_password(&p.to_lowercase())
        {
            return p;
        }
    }
}

/// What a change does to the shop's admins, checked inside the write that makes it: an admin
/// never demotes or deactivates themselves, and the shop always keeps one active admin.
/// `active_admins` counts the shop's active admins before the change (the target included).
pub fn check_admin_change(
    actor_id: Id,
    target: &User,
    new_role: Option<Role>,
    deactivating: bool,
    active_admins: i64,
) -> Result<()> {
    let demoted = new_role.is_some_and(|r| r != target.role);
    if target.id == actor_id && (demoted || deactivating) {
        return Err(Error::conflict(
            "you cannot change your own role or deactivate yourself",
        ));
    }
    let loses_an_admin = target.role == Role::Admin
        && target.active
        && (deactivating || new_role.is_some_and(|r| r != Role::Admin));
    if loses_an_admin && active_admins <= 1 {
        return Err(Error::conflict(
            "the shop must keep at least one active admin",
        ));
    }
    Ok(())
}

/// A member an admin adds. The password is a temporary one: the member must change it at their
/// first sign-in.
#[derive(Debug, Clone)]
pub struct NewMember {
    pub shop_id: Id,
    pub name: String,
    /// Normalized (lower case).
    pub email: String,
    pub role: Role,
    /// The teams the member serves, the main team first.
    pub team_ids: Vec<Id>,
    pub max_concurrent: Option<i64>,
    pub password_hash: String,
}

/// An edit of a member; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberPatch {
    pub name: Option<String>,
    pub role: Option<Role>,
    /// The full new list of teams, the main team first.
    pub team_ids: Option<Vec<Id>>,
    /// `Some(None)`: back to the shop's default cap.
    pub max_concurrent: Option<Option<i64>>,
}

impl MemberPatch {
    pub fn is_empty(&self) -> bool {
        *self == MemberPatch::default()
    }
}

/// How a new password is stored, and which sessions it ends.
#[derive(Debug, Clone)]
pub enum PasswordChange {
    /// An admin's reset to a temporary password: every session of the member ends and they must
    /// choose their own at the next sign-in.
    Temporary,
    /// The member chose their own: every other session ends, the one they used stays.
    Own { keep_session: String },
}

string_enum!(
    /// Why a member's sessions ended (the `session.ended` frame's `reason`).
    SessionEndReason {
        LoggedOut => "logged_out",
        PasswordChanged => "password_changed",
        PasswordReset => "password_reset",
        Deactivated => "deactivated",
    }
);

/// Which of a member's sessions (token hashes) an end applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionSet {
    All,
    Only(String),
    AllBut(String),
}

impl SessionSet {
    /// Whether a connection opened with the session `hash` is in the set.
    pub fn contains(&self, hash: &str) -> bool {
        match self {
            SessionSet::All => true,
            SessionSet::Only(h) => h == hash,
            SessionSet::AllBut(h) => h != hash,
        }
    }
}

string_enum!(
    /// What an audit entry records.
    AuditAction {
        MemberCreated => "member_created",
        MemberUpdated => "member_updated",
        PasswordReset => "password_reset",
        MemberDeactivated => "member_deactivated",
        MemberReactivated => "member_reactivated",
        OwnPasswordChanged => "own_password_changed",
        OwnProfileUpdated => "own_profile_updated",
        TeamCreated => "team_created",
        TeamUpdated => "team_updated",
        TeamDeleted => "team_deleted",
    }
);

/// Who made a change (the signed-in member).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AuditActor {
    pub id: Id,
    pub name: String,
}

impl From<&User> for AuditActor {
    fn from(u: &User) -> Self {
        AuditActor {
            id: u.id,
            name: u.name.clone(),
        }
    }
}

/// One change of the shop's members or teams: who, what, when, the state before and after
/// (never a password or its hash).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: Id,
    pub action: AuditAction,
    pub actor: AuditActor,
    /// `member` or `team`.
    pub target_type: String,
    pub target_id: Id,
    /// The member's or team's name at the time.
    pub target_name: String,
    /// The fields as they were (absent for a creation or a password change).
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The fields as they became (absent for a deletion or a password change).
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub created_at: Millis,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, Copy)]
pub struct AuditQuery {
    /// Only entries about this member.
    pub member_id: Option<Id>,
    /// Only entries older than this id (the previous page's last).
    pub before_id: Option<Id>,
    pub limit: i64,
}

/// What the audit keeps of a member: the fields an admin edits, by name.
pub fn member_snapshot(m: &Member) -> serde_json::Value {
    serde_json::json!({
        "name": m.user.name,
        "email": m.user.email,
        "role": m.user.role.as_str(),
        "teams": m.teams.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        "max_concurrent": m.user.max_concurrent,
        "active": m.user.active,
    })
}

/// What the audit keeps of a team.
pub fn team_snapshot(t: &Team) -> serde_json::Value {
    serde_json::json!({ "name": t.name, "is_default": t.is_default })
}

/// What deactivating a member did, for the flow to announce.
#[derive(Debug, Clone)]
pub struct Deactivation {
    pub member: Member,
    /// The member's conversations taken back (open ones back in the queue, pending ones
    /// unassigned), as they are now.
    pub released: Vec<Conversation>,
    /// The notice stored in each open conversation for its shopper ([`REQUEUED_NOTICE`]).
    pub notices: Vec<Message>,
}

/// Storage of members, teams and their audit. Every write records its audit entry in the same
/// transaction; another shop's member or team is `not_found`.
#[async_trait]
pub trait MemberStore {
    /// The shop's members, oldest first; deactivated ones only when asked for.
    async fn list_members(&self, shop_id: Id, include_deactivated: bool) -> Result<Vec<Member>>;
    async fn member(&self, shop_id: Id, id: Id) -> Result<Option<Member>>;
    /// `conflict` when the e-mail is taken (in any shop), `not_found` naming `team_ids` for a
    /// team of another shop.
    async fn create_member(&self, new: NewMember, by: &AuditActor) -> Result<Member>;
    /// Applies the patch under [`check_admin_change`].
    async fn update_member(
        &self,
        shop_id: Id,
        id: Id,
        patch: &MemberPatch,
        by: &AuditActor,
    ) -> Result<Member>;
    /// The member's own name (audited as their own change).
    async fn rename_self(&self, shop_id: Id, id: Id, name: &str) -> Result<Member>;
    /// The stored password hash, to check the current password of an own change.
    async fn password_hash(&self, shop_id: Id, id: Id) -> Result<Option<String>>;
    /// Stores a new password hash and ends the sessions the change says.
    async fn set_password(
        &self,
        shop_id: Id,
        id: Id,
        password_hash: &str,
        change: PasswordChange,
        by: &AuditActor,
    ) -> Result<Member>;
    /// Deactivates under [`check_admin_change`]: offline, sessions deleted, conversations taken
    /// back with a notice to each waiting shopper, in one transaction. `conflict` when already
    /// deactivated.
    async fn deactivate_member(&self, shop_id: Id, id: Id, by: &AuditActor)
    -> Result<Deactivation>;
    /// `conflict` when active.
    async fn reactivate_member(&self, shop_id: Id, id: Id, by: &AuditActor) -> Result<Member>;

    /// `conflict` when the name is taken in the shop.
    async fn create_team_audited(&self, shop_id: Id, name: &str, by: &AuditActor) -> Result<Team>;
    /// Renames and/or makes the default team.
    async fn update_team(
        &self,
        shop_id: Id,
        id: Id,
        name: Option<&str>,
        make_default: bool,
        by: &AuditActor,
    ) -> Result<Team>;
    /// Deletes a team without active members (`conflict` otherwise, and for the default team).
    /// Deactivated members leave it; its conversations move to the default team and its tickets
    /// lose their team.
    async fn delete_team(&self, shop_id: Id, id: Id, by: &AuditActor) -> Result<()>;

    async fn member_audit(&self, shop_id: Id, query: AuditQuery) -> Result<Vec<AuditEntry>>;
}

/// `not_found` naming the field, for a team id that is not one of the shop's.
pub fn unknown_team() -> Error {
    Error {
        field: Some("team_ids".into()),
        ..Error::new(ErrorCode::NotFound, "team_ids: no such team in this shop")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AgentStatus;

    fn user(id: Id, role: Role, active: bool) -> User {
        User {
            id,
            shop_id: 1,
            name: format!("u{id}"),
            email: format!("u{id}@x.cn"),
            role,
            status: AgentStatus::Offline,
            team: None,
            max_concurrent: None,
            active,
            must_change_password: false,
        }
    }

    #[test]
    fn password_policy() {
        let email = "Li.Na@Shop.cn";
        for (bad, why) in [
            ("short1", "at least 8"),
            ("12345678", "only digits"),
            ("li.na@shop.cn", "e-mail"),
            ("LI.NA@SHOP.CN", "e-mail"),
            ("li.na123", "ok"),
            ("Li.Na", "at least 8"),
        ] {
            let r = check_password("password", bad, email);
            if why == "ok" {
                assert!(r.is_ok(), "{bad}");
            } else {
                let e = r.unwrap_err();
                assert_eq!(e.field.as_deref(), Some("password"));
                assert!(e.message.contains(why), "{bad}: {}", e.message);
            }
        }
        assert!(check_password("password", "li.na@shop", "li.na@shop.cn").is_ok());
        assert!(check_password("password", "lina.shop", "li.na@shop.cn").is_ok());
        // The local part alone is refused too.
        assert!(check_password("password", "wang.dian", "wang.dian@demo.kefu").is_err());
        assert!(check_password("new_password", &"x1".repeat(65), email).is_err());
        assert!(check_password("new_password", "密码密码密码密码", email).is_ok());
    }

    #[test]
    fn guessable_passwords_are_refused() {
        for bad in [
            "password",
            "Password1",
            "admin123",
            "Admin@2024",
            "woaini1314",
            "qwerty123",
            "abc12345",
            "aaaaaaaa",
            "abcdefgh",
            "qwertyui",
            "!qwerty2024",
            "kefu1234",
            "1qaz2wsx",
            "iloveyou",
            "zyxwvuts",
        ] {
            let e = check_password("password", bad, "a@b.cn").unwrap_err();
            assert!(
                e.message.ends_with("is too common to be safe"),
                "{bad}: {}",
                e.message
            );
        }
        for good in [
            "li.na123",
            "mango-river-7",
            "Xq9#kefu-desk",
            "admin-of-beestore",
            "密码密码密码密码",
            "password-for-wang-dian",
        ] {
            assert!(check_password("password", good, "a@b.cn").is_ok(), "{good}");
        }
    }

    #[test]
    fn temporary_passwords_pass_the_policy_and_differ() {
        let a = temporary_password();
        let b = temporary_password();
        assert_ne!(a, b);
        assert_eq!(a.chars().count(), TEMPORARY_LEN);
        assert!(
            a.bytes()
                .all(|c| TEMPORARY_ALPHABET.contains(&c) && !b"0O1lI".contains(&c))
        );
        for _ in 0..200 {
            assert!(check_password("password", &temporary_password(), "a@b.cn").is_ok());
        }
    }

    #[test]
    fn admins_cannot_remove_themselves_or_the_last_admin() {
        let me = user(1, Role::Admin, true);
        let other_admin = user(2, Role::Admin, true);
        let agent = user(3, Role::Agent, true);
        let conflict = |r: Result<()>| r.unwrap_err().code == ErrorCode::Conflict;
        // Oneself: no demotion, no deactivation, whatever the count.
        assert!(conflict(check_admin_change(
            1,
            &me,
            Some(Role::Agent),
            false,
            5
        )));
        assert!(conflict(check_admin_change(1, &me, None, true, 5)));
        // Keeping one's own role (an edit of name or teams) is fine.
        assert!(check_admin_change(1, &me, Some(Role::Admin), false, 1).is_ok());
        assert!(check_admin_change(1, &me, None, false, 1).is_ok());
        // Another admin: only while another active admin remains.
        assert!(check_admin_change(1, &other_admin, Some(Role::Supervisor), false, 2).is_ok());
        assert!(check_admin_change(1, &other_admin, None, true, 2).is_ok());
        assert!(conflict(check_admin_change(1, &other_admin, None, true, 1)));
        // Agents and deactivated admins do not count.
        assert!(check_admin_change(1, &agent, None, true, 1).is_ok());
        assert!(
            check_admin_change(1, &user(4, Role::Admin, false), Some(Role::Agent), false, 1)
                .is_ok()
        );
    }

    #[test]
    fn names_and_teams() {
        assert_eq!(validate_name("name", "  小王 ").unwrap(), "小王");
        assert!(validate_name("name", " ").is_err());
        assert!(validate_name("name", &"字".repeat(51)).is_err());
        assert!(validate_name("name", "a\u{202E}b").is_err());
        assert!(validate_team_name(&"字".repeat(31)).is_err());
        assert_eq!(validate_team_ids(&[3, 1, 3]).unwrap(), vec![3, 1]);
        assert!(validate_team_ids(&[0]).is_err());
        assert!(validate_cap(Some(0)).is_err());
        assert!(validate_cap(None).is_ok());
    }

    #[test]
    fn session_sets() {
        assert!(SessionSet::All.contains("a"));
        assert!(SessionSet::Only("a".into()).contains("a"));
        assert!(!SessionSet::Only("a".into()).contains("b"));
        assert!(!SessionSet::AllBut("a".into()).contains("a"));
        assert!(SessionSet::AllBut("a".into()).contains("b"));
    }
}
