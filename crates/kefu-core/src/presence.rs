//! Presence and requeue (issue 19): why an agent has the status they have, the shop's presence
//! settings, the pure rule of which automatic change applies to which status, and the storage
//! port.
//!
//! An agent *chooses* `online`, `busy` (keeps their chats, gets no new ones) or `away` (with a
//! note such as 午休); a login or a reconnect restores that choice. Everything else is automatic
//! and never becomes a choice: `away` after the shop's idle minutes (back on activity), `offline`
//! once the agent's last console socket has been gone for the shop's seconds, or at logout. A
//! conversation waiting for an answer with an agent who has been `away` or `offline` longer than
//! the grace period is released (docs/AREAS.md, "Presence and requeue").

use crate::base::string_enum;
use crate::model::{AgentStatus, Conversation, Id, Message, User};
use crate::time::Millis;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The longest note an agent may give for `away` or `busy`, in characters.
pub const MAX_STATUS_NOTE_CHARS: usize = 20;

/// What a shopper reads when the agent serving them left and their chat is handed on (a
/// `system` message in the conversation; the shop's language is Chinese).
pub const AGENT_AWAY_NOTICE: &str =
    "客服暂时离开，正在为您转接其他客服，请稍候。您的消息我们都已收到。";

string_enum!(
    /// What caused an agent's current status; stored with it and as the `detail` of its KPI
    /// event (`manual:<note>` when the agent gave a note).
    StatusCause {
        // The agent chose it (the console's status switch, `PUT /api/v1/me/status`).
        Manual => "manual",
        // A sign-in restored the agent's last choice.
        Login => "login",
        // A console socket reconnected, or activity ended an automatic away: the last choice again.
        Activity => "activity",
        // No activity for the shop's idle time.
        AutoIdle => "auto_idle",
        // The agent's last console socket has been gone for the shop's offline time.
        SocketGone => "socket_gone",
        // The agent signed out (and has no other session).
        Logout => "logout",
        // An admin deactivated the account.
        Deactivated => "deactivated"
    }
);

impl StatusCause {
    /// Whether the status was set by the server rather than by the agent's own choice.
    pub fn is_automatic(self) -> bool {
        matches!(self, StatusCause::AutoIdle | StatusCause::SocketGone)
    }
}

string_enum!(
    /// Where a released conversation goes.
    RequeueTarget {
        // The head of its team's queue (it was being served), routed at once to a teammate with
        // room under their cap.
        Teammate => "teammate",
        // The back of its team's queue, behind the shoppers already waiting.
        Queue => "queue"
    }
);

/// A shop's presence rules, edited by admins in 设置 (`PUT /api/v1/presence/settings`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct PresenceSettings {
    /// An online or busy agent without activity for this long becomes `away` (0 = never;
    /// otherwise 1 s – 8 h; default 600 = 10 minutes; the console edits it in minutes).
    pub away_after_seconds: i64,
    /// An agent becomes `offline` once their last console socket has been gone this long
    /// (1 s – 1 h; default 60).
    pub offline_after_seconds: i64,
    /// A conversation waiting for an answer is released this long after its agent became `away`
    /// or `offline` (0 s – 1 h; default 120).
    pub requeue_grace_seconds: i64,
    pub requeue_target: RequeueTarget,
}

impl Default for PresenceSettings {
    fn default() -> Self {
        Self {
            away_after_seconds: 600,
            offline_after_seconds: 60,
            requeue_grace_seconds: 120,
            requeue_target: RequeueTarget::Teammate,
        }
    }
}

impl PresenceSettings {
    pub fn validate(&self) -> Result<()> {
        if !(0..=28_800).contains(&self.away_after_seconds) {
            return Err(Error::invalid(
                "away_after_seconds",
                "must be 0 (never) or between 1 and 28800",
            ));
        }
        if !(1..=3600).contains(&self.offline_after_seconds) {
            return Err(Error::invalid(
                "offline_after_seconds",
                "must be between 1 and 3600",
            ));
        }
        if !(0..=3600).contains(&self.requeue_grace_seconds) {
            return Err(Error::invalid(
                "requeue_grace_seconds",
                "must be between 0 and 3600",
            ));
        }
        Ok(())
    }
}

/// A status note: trimmed, at most [`MAX_STATUS_NOTE_CHARS`], no control characters; empty is none.
pub fn validate_note(raw: Option<&str>) -> Result<Option<String>> {
    let Some(note) = raw.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if note.chars().count() > MAX_STATUS_NOTE_CHARS {
        return Err(Error::invalid("note", "must be at most 20 characters"));
    }
    if note.chars().any(char::is_control) {
        return Err(Error::invalid(
            "note",
            "must not contain control characters",
        ));
    }
    Ok(Some(note.to_owned()))
}

/// An agent's presence as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub status: AgentStatus,
    pub cause: Option<StatusCause>,
    pub note: Option<String>,
    pub chosen: AgentStatus,
    pub chosen_note: Option<String>,
}

/// A change someone or something asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceRequest {
    /// The agent picks a status (and note). `online`, `busy` and `away` become their choice;
    /// `offline` does not (the next sign-in restores the last choice).
    Choose {
        status: AgentStatus,
        note: Option<String>,
    },
    /// A sign-in: the last choice, whatever the status now.
    Login,
    /// A console socket opened or the agent was active: the last choice, but only when the
    /// current status was set automatically (idle, socket gone) or by a sign-out, so a chosen
    /// `away` or `offline` stays (and a status never set waits for a sign-in or a choice).
    Returned,
    /// No activity for the idle time: `away`, only from `online` or `busy`.
    Idle,
    /// The last socket has been gone for the offline time: `offline`, from anything else.
    SocketGone,
    /// The agent signed out with no other session: `offline`.
    Logout,
}

/// A change to apply: the new status, its cause and note, and whether it is the agent's new choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceChange {
    pub status: AgentStatus,
    pub cause: StatusCause,
    pub note: Option<String>,
    pub remember: bool,
}

impl PresenceChange {
    /// The KPI event's `detail`: the cause, and the note after a colon when there is one.
    pub fn detail(&self) -> String {
        match &self.note {
            Some(note) => format!("{}:{note}", self.cause.as_str()),
            None => self.cause.as_str().to_owned(),
        }
    }
}

/// What `request` does to an agent's `current` presence: `None` when it does not apply (an
/// automatic change to a status the agent chose, or a change to what already is).
pub fn plan_presence(current: &Presence, request: &PresenceRequest) -> Option<PresenceChange> {
    let chosen = || {
        let status = match current.chosen {
            AgentStatus::Offline => AgentStatus::Online,
            s => s,
        };
        let note = (status != AgentStatus::Online)
            .then(|| current.chosen_note.clone())
            .flatten();
        (status, note)
    };
    let change = match request {
        PresenceRequest::Choose { status, note } => PresenceChange {
            status: *status,
            cause: StatusCause::Manual,
            note: if matches!(status, AgentStatus::Away | AgentStatus::Busy) {
                note.clone()
            } else {
                None
            },
            remember: *status != AgentStatus::Offline,
        },
        PresenceRequest::Login => {
            let (status, note) = chosen();
            PresenceChange {
                status,
                cause: StatusCause::Login,
                note,
                remember: false,
            }
        }
        PresenceRequest::Returned => {
            let automatic = current.cause.is_some_and(StatusCause::is_automatic)
                || (current.status == AgentStatus::Offline
                    && current.cause == Some(StatusCause::Logout));
            if !automatic {
                return None;
            }
            let (status, note) = chosen();
            PresenceChange {
                status,
                cause: StatusCause::Activity,
                note,
                remember: false,
            }
        }
        PresenceRequest::Idle => {
            if !matches!(current.status, AgentStatus::Online | AgentStatus::Busy) {
                return None;
            }
            PresenceChange {
                status: AgentStatus::Away,
                cause: StatusCause::AutoIdle,
                note: None,
                remember: false,
            }
        }
        PresenceRequest::SocketGone | PresenceRequest::Logout => {
            if current.status == AgentStatus::Offline {
                return None;
            }
            PresenceChange {
                status: AgentStatus::Offline,
                cause: if *request == PresenceRequest::Logout {
                    StatusCause::Logout
                } else {
                    StatusCause::SocketGone
                },
                note: None,
                remember: false,
            }
        }
    };
    let unchanged = change.status == current.status && change.note == current.note;
    // A manual pick of the current status still records the choice.
    if unchanged && !(change.remember && (current.chosen != change.status)) {
        return None;
    }
    Some(change)
}

/// An agent who is not offline, with their shop's settings, for the presence scan.
#[derive(Debug, Clone)]
pub struct PresentAgent {
    pub shop_id: Id,
    pub agent_id: Id,
    pub status: AgentStatus,
    pub cause: Option<StatusCause>,
    pub since: Option<Millis>,
    pub settings: PresenceSettings,
}

/// An agent away or offline past the grace period who still holds conversations waiting for an
/// answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequeueDue {
    pub shop_id: Id,
    pub agent_id: Id,
    pub target: RequeueTarget,
}

/// Conversations taken back from an agent, with the notices stored in them.
#[derive(Debug, Clone, Default)]
pub struct Released {
    pub conversations: Vec<Conversation>,
    pub notices: Vec<Message>,
}

/// The storage port of presence.
#[async_trait]
pub trait PresenceStore: Send + Sync {
    /// The shop's settings (the defaults until an admin saves them).
    async fn presence_settings(&self, shop_id: Id) -> Result<PresenceSettings>;
    async fn put_presence_settings(
        &self,
        shop_id: Id,
        settings: &PresenceSettings,
        now: Millis,
    ) -> Result<PresenceSettings>;
    /// Applies `request` to the agent (row locked; the change and its `agent_status` KPI event in
    /// one transaction). `Some(user)` when the status changed, `None` when the request did not
    /// apply. A deactivated or unknown agent is `not_found`.
    async fn change_presence(
        &self,
        shop_id: Id,
        agent_id: Id,
        request: &PresenceRequest,
        now: Millis,
    ) -> Result<Option<User>>;
    /// Every active agent of every shop whose status is not `offline`, with their shop's settings.
    async fn present_agents(&self) -> Result<Vec<PresentAgent>>;
    /// Agents `away` or `offline` for longer than their shop's grace at `now` who hold open
    /// conversations waiting for an answer.
    async fn requeue_due(&self, now: Millis) -> Result<Vec<RequeueDue>>;
    /// Releases the agent's open conversations waiting for an answer, if the agent is still
    /// `away` or `offline` past the grace: each goes to its team's queue (head or back by
    /// `target`) with [`AGENT_AWAY_NOTICE`] and a `transferred` KPI event, in one transaction.
    /// Conversations already moved (a concurrent scan, an agent's answer) are left alone.
    async fn release_waiting(
        &self,
        shop_id: Id,
        agent_id: Id,
        target: RequeueTarget,
        now: Millis,
    ) -> Result<Released>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presence(status: AgentStatus, cause: Option<StatusCause>, chosen: AgentStatus) -> Presence {
        Presence {
            status,
            cause,
            note: None,
            chosen,
            chosen_note: None,
        }
    }

    #[test]
    fn automatic_changes_never_override_a_choice() {
        let away = presence(
            AgentStatus::Away,
            Some(StatusCause::Manual),
            AgentStatus::Away,
        );
        assert_eq!(plan_presence(&away, &PresenceRequest::Returned), None);
        assert_eq!(plan_presence(&away, &PresenceRequest::Idle), None);
        let idle = presence(
            AgentStatus::Away,
            Some(StatusCause::AutoIdle),
            AgentStatus::Busy,
        );
        let back = plan_presence(&idle, &PresenceRequest::Returned).unwrap();
        assert_eq!(back.status, AgentStatus::Busy);
        assert_eq!(back.cause, StatusCause::Activity);
        assert!(!back.remember);
        let chose_offline = presence(
            AgentStatus::Offline,
            Some(StatusCause::Manual),
            AgentStatus::Online,
        );
        assert_eq!(
            plan_presence(&chose_offline, &PresenceRequest::Returned),
            None
        );
        let login = plan_presence(&chose_offline, &PresenceRequest::Login).unwrap();
        assert_eq!(login.status, AgentStatus::Online);
        let never_set = presence(AgentStatus::Offline, None, AgentStatus::Online);
        assert_eq!(plan_presence(&never_set, &PresenceRequest::Returned), None);
        let gone = presence(
            AgentStatus::Offline,
            Some(StatusCause::SocketGone),
            AgentStatus::Online,
        );
        assert_eq!(
            plan_presence(&gone, &PresenceRequest::Returned).map(|c| c.status),
            Some(AgentStatus::Online)
        );
    }

    #[test]
    fn idle_and_gone() {
        let online = presence(AgentStatus::Online, None, AgentStatus::Online);
        let idle = plan_presence(&online, &PresenceRequest::Idle).unwrap();
        assert_eq!(
            (idle.status, idle.cause),
            (AgentStatus::Away, StatusCause::AutoIdle)
        );
        let gone = plan_presence(&online, &PresenceRequest::SocketGone).unwrap();
        assert_eq!(gone.status, AgentStatus::Offline);
        let offline = presence(AgentStatus::Offline, None, AgentStatus::Online);
        assert_eq!(plan_presence(&offline, &PresenceRequest::SocketGone), None);
        assert_eq!(plan_presence(&offline, &PresenceRequest::Idle), None);
    }

    #[test]
    fn choices_are_remembered_with_their_note() {
        let online = presence(AgentStatus::Online, None, AgentStatus::Online);
        let c = plan_presence(
            &online,
            &PresenceRequest::Choose {
                status: AgentStatus::Away,
                note: Some("午休".into()),
            },
        )
        .unwrap();
        assert!(c.remember);
        assert_eq!(c.detail(), "manual:午休");
        let off = plan_presence(
            &online,
            &PresenceRequest::Choose {
                status: AgentStatus::Offline,
                note: Some("x".into()),
            },
        )
        .unwrap();
        assert!(!off.remember);
        assert_eq!(off.note, None);
    }

    #[test]
    fn settings_are_checked() {
        assert!(PresenceSettings::default().validate().is_ok());
        let bad = PresenceSettings {
            offline_after_seconds: 0,
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().field.as_deref(),
            Some("offline_after_seconds")
        );
        let never = PresenceSettings {
            away_after_seconds: 0,
            ..Default::default()
        };
        assert!(never.validate().is_ok());
        assert!(validate_note(Some("一二三四五六七八九十一二三四五六七八九十一")).is_err());
        assert_eq!(validate_note(Some("  ")).unwrap(), None);
    }
}
