//! Members and teams (issue 19): adding, editing, resetting, deactivating and reactivating
//! members, teams, the audit log, and each member's own account (password and name). Listing is
//! `GET /api/v1/agents` (routes/agent.rs). The flows are `state.services.members`.

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use kefu_core::Error;
use kefu_core::members::{AuditActor, AuditEntry, AuditQuery, MemberPatch};
use kefu_core::model::{AgentSummary, Id, Role, Team, User};
use kefu_service::members::{NewMemberInput, WithTemporaryPassword};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The routes of this module that have a path of their own; `PATCH /me` and the `/teams`
/// methods join the agents' routes of those paths (routes/mod.rs).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/members", post(create_member))
        .route("/api/v1/members/{id}", get(get_member).patch(update_member))
        .route("/api/v1/members/{id}/password-reset", post(reset_password))
        .route("/api/v1/members/{id}/deactivate", post(deactivate_member))
        .route("/api/v1/members/{id}/reactivate", post(reactivate_member))
        .route("/api/v1/me/password", axum::routing::put(change_password))
        .route(
            "/api/v1/teams/{id}",
            axum::routing::patch(update_team).delete(delete_team),
        )
        .route("/api/v1/teams/{id}/members", get(team_members))
        .route("/api/v1/audit", get(audit))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        create_member,
        get_member,
        update_member,
        reset_password,
        deactivate_member,
        reactivate_member,
        change_password,
        update_me,
        create_team,
        update_team,
        delete_team,
        team_members,
        audit
    ),
    components(schemas(
        CreateMemberRequest,
        UpdateMemberRequest,
        MemberResponse,
        TemporaryPasswordResponse,
        DeactivationResponse,
        ChangePasswordRequest,
        UpdateMeRequest,
        MeUserResponse,
        TeamRequest,
        UpdateTeamRequest,
        TeamResponse,
        MembersResponse,
        AuditResponse,
        AuditEntry,
        AuditActor,
        kefu_core::members::AuditAction,
        kefu_core::members::SessionEndReason
    ))
)]
pub struct ApiDoc;

fn role(raw: &str) -> Result<Role, Error> {
    Role::parse(raw).map_err(|_| Error::invalid("role", "must be agent, supervisor or admin"))
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
pub struct CreateMemberRequest {
    pub name: String,
    pub email: String,
    /// `agent`, `supervisor` or `admin`.
    pub role: String,
    /// The teams whose queues the member serves, the main team first.
    #[serde(default)]
    pub team_ids: Vec<Id>,
    /// 1-100 conversations at once; absent or `null` for the shop's default.
    #[serde(default)]
    pub max_concurrent: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberResponse {
    pub member: AgentSummary,
}

/// A member with a new temporary password. The password is shown this once and never stored in
/// readable form; the member must replace it at their first sign-in.
#[derive(Serialize, ToSchema)]
pub struct TemporaryPasswordResponse {
    pub member: AgentSummary,
    pub temporary_password: String,
}

impl From<WithTemporaryPassword> for TemporaryPasswordResponse {
    fn from(w: WithTemporaryPassword) -> Self {
        TemporaryPasswordResponse {
            member: w.member,
            temporary_password: w.temporary_password,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/members", tag = "members", request_body = CreateMemberRequest,
    responses((status = 201, body = TemporaryPasswordResponse), (status = 403, body = ErrorBody),
        (status = 404, description = "a team of `team_ids` is not the shop's", body = ErrorBody),
        (status = 409, description = "the e-mail is already used", body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
/// Adds a member (admins) and answers their temporary password, once.
pub async fn create_member(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(req): ApiJson<CreateMemberRequest>,
) -> ApiResult<(StatusCode, Json<TemporaryPasswordResponse>)> {
    let created = state
        .services
        .members
        .create(
            &agent.user,
            NewMemberInput {
                name: req.name,
                email: req.email,
                role: role(&req.role)?,
                team_ids: req.team_ids,
                max_concurrent: req.max_concurrent,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

#[utoipa::path(get, path = "/api/v1/members/{id}", tag = "members", params(("id" = i64, Path)),
    responses((status = 200, body = MemberResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
/// One member (admins and supervisors).
pub async fn get_member(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<MemberResponse>> {
    let member = state.services.members.get(&agent.user, id).await?;
    Ok(Json(MemberResponse { member }))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateMemberRequest {
    pub name: Option<String>,
    pub role: Option<String>,
    /// The full new list of teams, the main team first.
    pub team_ids: Option<Vec<Id>>,
    /// 1-100, or `null` for the shop's default; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub max_concurrent: Option<Option<i64>>,
}

#[utoipa::path(patch, path = "/api/v1/members/{id}", tag = "members", params(("id" = i64, Path)),
    request_body = UpdateMemberRequest,
    responses((status = 200, body = MemberResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "an admin demoting themselves, or the shop's last active admin", body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
/// Edits a member's name, role, teams or cap (admins).
pub async fn update_member(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<UpdateMemberRequest>,
) -> ApiResult<Json<MemberResponse>> {
    let patch = MemberPatch {
        name: req.name,
        role: req.role.as_deref().map(role).transpose()?,
        team_ids: req.team_ids,
        max_concurrent: req.max_concurrent,
    };
    let member = state
        .services
        .members
        .update(&agent.user, id, patch)
        .await?;
    Ok(Json(MemberResponse { member }))
}

#[utoipa::path(post, path = "/api/v1/members/{id}/password-reset", tag = "members", params(("id" = i64, Path)),
    responses((status = 200, body = TemporaryPasswordResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
/// A new temporary password for a member (admins); all their sessions end.
pub async fn reset_password(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<TemporaryPasswordResponse>> {
    let reset = state
        .services
        .members
        .reset_password(&agent.user, id)
        .await?;
    Ok(Json(reset.into()))
}

#[derive(Serialize, ToSchema)]
pub struct DeactivationResponse {
    pub member: AgentSummary,
    /// How many of the member's conversations went back to the queue or were unassigned.
    pub released: usize,
}

#[utoipa::path(post, path = "/api/v1/members/{id}/deactivate", tag = "members", params(("id" = i64, Path)),
    responses((status = 200, body = DeactivationResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "already deactivated, oneself, or the shop's last active admin", body = ErrorBody)),
    security(("bearer" = [])))]
/// Deactivates a member (admins): signed out everywhere at once, their chats back to the queue.
pub async fn deactivate_member(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<DeactivationResponse>> {
    let done = state.services.members.deactivate(&agent.user, id).await?;
    Ok(Json(DeactivationResponse {
        member: done.member,
        released: done.released.len(),
    }))
}

#[utoipa::path(post, path = "/api/v1/members/{id}/reactivate", tag = "members", params(("id" = i64, Path)),
    responses((status = 200, body = MemberResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "the member is active", body = ErrorBody)),
    security(("bearer" = [])))]
/// Lets a deactivated member sign in again (admins).
pub async fn reactivate_member(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<MemberResponse>> {
    let member = state.services.members.reactivate(&agent.user, id).await?;
    Ok(Json(MemberResponse { member }))
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// At least 8 characters, not only digits, not the e-mail address.
    pub new_password: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeUserResponse {
    pub user: User,
}

#[utoipa::path(put, path = "/api/v1/me/password", tag = "members", request_body = ChangePasswordRequest,
    responses((status = 200, body = MeUserResponse), (status = 422, description = "a wrong current password or a new one outside the policy", body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
/// The caller's own password; every other session of theirs ends. Also allowed (and required)
/// while signed in with a temporary password.
pub async fn change_password(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> ApiResult<Json<MeUserResponse>> {
    let member = state
        .services
        .members
        .change_own_password(
            &agent.user,
            &agent.session_hash(),
            req.current_password,
            req.new_password,
            &state.password_checks,
        )
        .await?;
    Ok(Json(MeUserResponse { user: member.user }))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateMeRequest {
    /// The caller's display name (1-50 characters), shown to colleagues and shoppers.
    pub name: String,
}

#[utoipa::path(patch, path = "/api/v1/me", tag = "members", request_body = UpdateMeRequest,
    responses((status = 200, body = MeUserResponse), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
/// The caller's own display name.
pub async fn update_me(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(req): ApiJson<UpdateMeRequest>,
) -> ApiResult<Json<MeUserResponse>> {
    let member = state
        .services
        .members
        .update_own_profile(&agent.user, &req.name)
        .await?;
    Ok(Json(MeUserResponse { user: member.user }))
}

#[derive(Deserialize, ToSchema)]
pub struct TeamRequest {
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateTeamRequest {
    pub name: Option<String>,
    /// `true` makes this the team new conversations start in.
    pub is_default: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct TeamResponse {
    pub team: Team,
}

#[utoipa::path(post, path = "/api/v1/teams", tag = "members", request_body = TeamRequest,
    responses((status = 201, body = TeamResponse), (status = 403, body = ErrorBody),
        (status = 409, description = "the name is taken", body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
/// Adds a team (admins).
pub async fn create_team(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(req): ApiJson<TeamRequest>,
) -> ApiResult<(StatusCode, Json<TeamResponse>)> {
    let team = state
        .services
        .members
        .create_team(&agent.user, &req.name)
        .await?;
    Ok((StatusCode::CREATED, Json(TeamResponse { team })))
}

#[utoipa::path(patch, path = "/api/v1/teams/{id}", tag = "members", params(("id" = i64, Path)),
    request_body = UpdateTeamRequest,
    responses((status = 200, body = TeamResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
/// Renames a team or makes it the default (admins).
pub async fn update_team(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<UpdateTeamRequest>,
) -> ApiResult<Json<TeamResponse>> {
    if req.is_default == Some(false) {
        return Err(Error::invalid("is_default", "make another team the default instead").into());
    }
    let team = state
        .services
        .members
        .update_team(
            &agent.user,
            id,
            req.name.as_deref(),
            req.is_default == Some(true),
        )
        .await?;
    Ok(Json(TeamResponse { team }))
}

#[utoipa::path(delete, path = "/api/v1/teams/{id}", tag = "members", params(("id" = i64, Path)),
    responses((status = 204, description = "deleted; its conversations moved to the default team"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "the default team, or a team with active members", body = ErrorBody)),
    security(("bearer" = [])))]
/// Deletes a team without active members (admins).
pub async fn delete_team(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    state.services.members.delete_team(&agent.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct MembersResponse {
    pub members: Vec<AgentSummary>,
}

#[utoipa::path(get, path = "/api/v1/teams/{id}/members", tag = "members", params(("id" = i64, Path)),
    responses((status = 200, body = MembersResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
/// A team's members.
pub async fn team_members(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<MembersResponse>> {
    let members = state.services.members.team_members(&agent.user, id).await?;
    Ok(Json(MembersResponse { members }))
}

#[derive(Deserialize, IntoParams)]
pub struct AuditParams {
    /// Only entries about this member.
    pub member_id: Option<Id>,
    /// Entries older than this id: the `next_before` of the previous page.
    pub before: Option<Id>,
    /// At most this many (default 50, max 200).
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditResponse {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; `null` on the last page.
    pub next_before: Option<Id>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "members", params(AuditParams),
    responses((status = 200, body = AuditResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
/// Changes to members and teams, newest first (admins).
pub async fn audit(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<AuditParams>,
) -> ApiResult<Json<AuditResponse>> {
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let entries = state
        .services
        .members
        .audit(
            &agent.user,
            AuditQuery {
                member_id: q.member_id,
                before_id: q.before,
                limit,
            },
        )
        .await?;
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditResponse {
        entries,
        next_before,
    }))
}
