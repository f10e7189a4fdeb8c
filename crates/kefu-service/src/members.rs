//! Members and teams (issue 19): the flows behind the members page and "my account".
//!
//! Admins add members (with a temporary password shown once), edit them, reset their passwords,
//! deactivate and reactivate them, and manage teams; every change is audited by the store in the
//! same transaction. What follows a change is here: ending sessions and their sockets (through
//! the [`EventSink`]: `session.ended`, then the hub closes them), handing a deactivated member's
//! chats back to routing with a notice to each shopper, and telling consoles to reload members.
//! The rules themselves (password policy, the last admin) are `kefu_core::members`.

use crate::passwords::{PasswordChecks, hash_password};
use crate::presence::PresenceService;
use crate::routing::RoutingService;
use kefu_core::events::{Event, EventSink};
use kefu_core::members::*;
use kefu_core::model::{AgentStatus, Id, Role, Team, User};
use kefu_core::store::Store;
use kefu_core::{Error, Result};
use std::sync::Arc;

/// What an admin fills in for a new member.
#[derive(Debug, Clone)]
pub struct NewMemberInput {
    pub name: String,
    pub email: String,
    pub role: Role,
    pub team_ids: Vec<Id>,
    pub max_concurrent: Option<i64>,
}

/// A new member (or a reset) with the temporary password, shown to the admin once.
pub struct WithTemporaryPassword {
    pub member: Member,
    pub temporary_password: String,
}

/// Members, teams, own accounts and sessions.
pub struct MembersService {
    store: Arc<dyn Store>,
    events: Arc<dyn EventSink>,
    routing: Arc<RoutingService>,
    presence: Arc<PresenceService>,
}

fn require_admin(by: &User) -> Result<()> {
    if by.role != Role::Admin {
        return Err(Error::forbidden("only admins manage members and teams"));
    }
    Ok(())
}

impl MembersService {
    pub fn new(
        store: Arc<dyn Store>,
        events: Arc<dyn EventSink>,
        routing: Arc<RoutingService>,
        presence: Arc<PresenceService>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            events,
            routing,
            presence,
        })
    }

    fn changed(&self, shop_id: Id, member_id: Option<Id>, role: Option<Role>) {
        self.events.publish(Event::MembersChanged {
            shop_id,
            member_id,
            role,
        });
    }

    fn end_sessions(&self, user: &User, sessions: SessionSet, reason: SessionEndReason) {
        self.events.publish(Event::SessionsEnded {
            shop_id: user.shop_id,
            user_id: user.id,
            sessions,
            reason,
        });
    }

    /// Routing after a change of who serves which queue; a failure is logged, the change stands.
    async fn reroute(&self, shop_id: Id) {
        let routed = async {
            self.routing.route(shop_id, None).await?;
            self.routing.publish_queue(shop_id).await
        };
        if let Err(e) = routed.await {
            tracing::warn!(%e, shop_id, "routing after a member change failed");
        }
    }

    /// The shop's members: admins and supervisors also see deactivated ones (marked), agents only
    /// the active ones.
    pub async fn list(&self, viewer: &User) -> Result<Vec<Member>> {
        self.store
            .list_members(viewer.shop_id, viewer.role.sees_whole_shop())
            .await
    }

    /// One member (admins and supervisors).
    pub async fn get(&self, viewer: &User, id: Id) -> Result<Member> {
        if !viewer.role.sees_whole_shop() {
            return Err(Error::forbidden("only admins and supervisors see members"));
        }
        self.store
            .member(viewer.shop_id, id)
            .await?
            .ok_or_else(|| Error::not_found("member"))
    }

    /// Adds a member with a temporary password they must change at their first sign-in.
    pub async fn create(&self, by: &User, input: NewMemberInput) -> Result<WithTemporaryPassword> {
        require_admin(by)?;
        let name = validate_name("name", &input.name)?;
        let email = kefu_core::customers::normalize_email("email", &input.email)?;
        let team_ids = validate_team_ids(&input.team_ids)?;
        validate_cap(input.max_concurrent)?;
        let temporary_password = temporary_password();
        let password_hash = hash_password(temporary_password.clone()).await?;
        let member = self
            .store
            .create_member(
                NewMember {
                    shop_id: by.shop_id,
                    name,
                    email,
                    role: input.role,
                    team_ids,
                    max_concurrent: input.max_concurrent,
                    password_hash,
                },
                &AuditActor::from(by),
            )
            .await?;
        tracing::info!(admin = by.id, member = member.user.id, "member created");
        self.changed(by.shop_id, Some(member.user.id), None);
        Ok(WithTemporaryPassword {
            member,
            temporary_password,
        })
    }

    /// Edits a member's name, role, teams or cap (admins). An admin cannot demote themselves, and
    /// the shop keeps one active admin.
    pub async fn update(&self, by: &User, id: Id, mut patch: MemberPatch) -> Result<Member> {
        require_admin(by)?;
        if patch.is_empty() {
            return Err(Error::validation("nothing to change"));
        }
        if let Some(name) = &patch.name {
            patch.name = Some(validate_name("name", name)?);
        }
        if let Some(ids) = &patch.team_ids {
            patch.team_ids = Some(validate_team_ids(ids)?);
        }
        if let Some(cap) = patch.max_concurrent {
            validate_cap(cap)?;
        }
        let member = self
            .store
            .update_member(by.shop_id, id, &patch, &AuditActor::from(by))
            .await?;
        self.changed(by.shop_id, Some(id), patch.role);
        if patch.team_ids.is_some() || patch.max_concurrent.is_some() {
            self.reroute(by.shop_id).await;
        }
        Ok(member)
    }

    /// A new temporary password for a member (admins): every session of theirs ends, sockets
    /// included, and they choose their own at the next sign-in.
    pub async fn reset_password(&self, by: &User, id: Id) -> Result<WithTemporaryPassword> {
        require_admin(by)?;
        // Another shop's member is not found before any hashing work.
        self.store
            .member(by.shop_id, id)
            .await?
            .ok_or_else(|| Error::not_found("member"))?;
        let temporary_password = temporary_password();
        let hash = hash_password(temporary_password.clone()).await?;
        let member = self
            .store
            .set_password(
                by.shop_id,
                id,
                &hash,
                PasswordChange::Temporary,
                &AuditActor::from(by),
            )
            .await?;
        self.end_sessions(
            &member.user,
            SessionSet::All,
            SessionEndReason::PasswordReset,
        );
        self.changed(by.shop_id, Some(id), None);
        Ok(WithTemporaryPassword {
            member,
            temporary_password,
        })
    }

    /// Deactivates a member (admins): they are signed out everywhere at once and cannot sign in;
    /// their chats go back to the queue (the shoppers are told) and routing hands them to a
    /// teammate with room. Their name stays on everything they wrote.
    pub async fn deactivate(&self, by: &User, id: Id) -> Result<Deactivation> {
        require_admin(by)?;
        let done = self
            .store
            .deactivate_member(by.shop_id, id, &AuditActor::from(by))
            .await?;
        let shop_id = by.shop_id;
        self.end_sessions(
            &done.member.user,
            SessionSet::All,
            SessionEndReason::Deactivated,
        );
        self.events.publish(Event::AgentStatus {
            shop_id,
            agent_id: id,
            status: AgentStatus::Offline,
            cause: Some(kefu_core::presence::StatusCause::Deactivated),
            note: None,
        });
        for conversation in &done.released {
            let conversation = Arc::new(conversation.clone());
            for notice in done
                .notices
                .iter()
                .filter(|m| m.conversation_id == conversation.id)
            {
                self.events.publish(Event::MessageCreated {
                    conversation: conversation.clone(),
                    message: Arc::new(notice.clone()),
                });
            }
            self.events.publish(Event::ConversationUpdated {
                conversation,
                previous_assignee: Some(id),
            });
        }
        self.changed(shop_id, Some(id), None);
        tracing::info!(
            admin = by.id,
            member = id,
            released = done.released.len(),
            "member deactivated"
        );
        self.reroute(shop_id).await;
        self.presence.shop_changed(shop_id).await;
        Ok(done)
    }

    /// Lets a deactivated member sign in again (admins), with the password they had.
    pub async fn reactivate(&self, by: &User, id: Id) -> Result<Member> {
        require_admin(by)?;
        let member = self
            .store
            .reactivate_member(by.shop_id, id, &AuditActor::from(by))
            .await?;
        self.changed(by.shop_id, Some(id), None);
        Ok(member)
    }

    /// A member changes their own password: the current one is checked (within the cap on
    /// argon2 checks), the new one must meet the policy; every other session of theirs ends.
    pub async fn change_own_password(
        &self,
        me: &User,
        session_hash: &str,
        current: String,
        new: String,
        checks: &PasswordChecks,
    ) -> Result<Member> {
        check_password("new_password", &new, &me.email)?;
        if new == current {
            return Err(Error::invalid(
                "new_password",
                "must differ from the current password",
            ));
        }
        let stored = self
            .store
            .password_hash(me.shop_id, me.id)
            .await?
            .ok_or_else(|| Error::not_found("member"))?;
        if !checks.verify(current, stored).await? {
            return Err(Error::invalid("current_password", "is wrong"));
        }
        let hash = hash_password(new).await?;
        let member = self
            .store
            .set_password(
                me.shop_id,
                me.id,
                &hash,
                PasswordChange::Own {
                    keep_session: session_hash.to_owned(),
                },
                &AuditActor::from(me),
            )
            .await?;
        self.end_sessions(
            me,
            SessionSet::AllBut(session_hash.to_owned()),
            SessionEndReason::PasswordChanged,
        );
        // Lists of members show who still has to choose a password.
        self.changed(me.shop_id, Some(me.id), None);
        Ok(member)
    }

    /// A member changes their own display name.
    pub async fn update_own_profile(&self, me: &User, name: &str) -> Result<Member> {
        let name = validate_name("name", name)?;
        let member = self.store.rename_self(me.shop_id, me.id, &name).await?;
        self.changed(me.shop_id, Some(me.id), None);
        Ok(member)
    }

    /// Ends the session used (deleted server-side) and closes the sockets opened with it.
    pub async fn logout(&self, me: &User, session_hash: &str) -> Result<()> {
        self.store.delete_session(session_hash).await?;
        self.end_sessions(
            me,
            SessionSet::Only(session_hash.to_owned()),
            SessionEndReason::LoggedOut,
        );
        // Signed out is offline (not a choice: the next sign-in restores the last one).
        self.presence.logout(me).await;
        Ok(())
    }

    /// A team's members (any member of the shop; deactivated ones for admins and supervisors).
    pub async fn team_members(&self, viewer: &User, team_id: Id) -> Result<Vec<Member>> {
        let teams = self.store.list_teams(viewer.shop_id).await?;
        if !teams.iter().any(|t| t.id == team_id) {
            return Err(Error::not_found("team"));
        }
        Ok(self
            .list(viewer)
            .await?
            .into_iter()
            .filter(|m| m.teams.iter().any(|t| t.id == team_id))
            .collect())
    }

    pub async fn create_team(&self, by: &User, name: &str) -> Result<Team> {
        require_admin(by)?;
        let name = validate_team_name(name)?;
        let team = self
            .store
            .create_team_audited(by.shop_id, &name, &AuditActor::from(by))
            .await?;
        self.changed(by.shop_id, None, None);
        Ok(team)
    }

    /// Renames a team and/or makes it the default (where new chats start).
    pub async fn update_team(
        &self,
        by: &User,
        id: Id,
        name: Option<&str>,
        make_default: bool,
    ) -> Result<Team> {
        require_admin(by)?;
        if name.is_none() && !make_default {
            return Err(Error::validation("nothing to change"));
        }
        let name = name.map(validate_team_name).transpose()?;
        let team = self
            .store
            .update_team(
                by.shop_id,
                id,
                name.as_deref(),
                make_default,
                &AuditActor::from(by),
            )
            .await?;
        self.changed(by.shop_id, None, None);
        Ok(team)
    }

    /// Deletes a team without active members; its chats move to the default team and are routed.
    pub async fn delete_team(&self, by: &User, id: Id) -> Result<()> {
        require_admin(by)?;
        self.store
            .delete_team(by.shop_id, id, &AuditActor::from(by))
            .await?;
        self.changed(by.shop_id, None, None);
        self.reroute(by.shop_id).await;
        Ok(())
    }

    /// The audit log of members and teams, newest first (admins).
    pub async fn audit(&self, by: &User, query: AuditQuery) -> Result<Vec<AuditEntry>> {
        require_admin(by)?;
        if let Some(member) = query.member_id {
            self.store
                .member(by.shop_id, member)
                .await?
                .ok_or_else(|| Error::not_found("member"))?;
        }
        self.store.member_audit(by.shop_id, query).await
    }
}
