//! Agent-facing endpoints: login, own status, colleagues, conversations, messages, shop settings.

use crate::AppState;
use crate::auth::{Agent, ClientIp, SESSION_COOKIE, SESSION_TTL_MS};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kefu_core::model::*;
use kefu_core::time::Millis;
use kefu_core::{Error, ErrorCode, token};
use kefu_service::passwords::DUMMY_HASH;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for the API and `?token=` for the WebSocket. Shown once.
    pub token: String,
    pub user: User,
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "agents", request_body = LoginRequest,
    responses((status = 200, description = "signed in; `user.must_change_password` asks for `PUT /api/v1/me/password` first", body = LoginResponse),
        (status = 401, body = ErrorBody),
        (status = 403, description = "`account_deactivated`: the right password of a deactivated account", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    if !state.limits.login.check(&ip) {
        return Err(Error::new(
            ErrorCode::RateLimited,
            "too many login attempts; try again later",
        )
        .into());
    }
    // Guessing one account from many addresses: the account waits, whoever asks.
    if let Err(wait) = state.login_guard.check(&req.email, Instant::now()) {
        let mut response = ApiError(Error::new(
            ErrorCode::RateLimited,
            "too many wrong passwords for this account; try again later",
        ))
        .into_response();
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        return Ok(response);
    }
    let found = state.store.user_by_email(req.email.trim()).await?;
    let hash = found
        .as_ref()
        .map_or(DUMMY_HASH.to_owned(), |(_, h)| h.clone());
    let ok = state.password_checks.verify(req.password, hash).await?;
    let user = match found {
        Some((user, _)) if ok => user,
        _ => {
            state.login_guard.failed(&req.email, Instant::now());
            return Err(Error::unauthorized("wrong e-mail or password").into());
        }
    };
    state.login_guard.clear(&req.email);
    // Only with the right password: a wrong one never tells whether an account is deactivated.
    if !user.active {
        return Err(Error::new(
            ErrorCode::AccountDeactivated,
            "this account has been deactivated; ask the shop's admin",
        )
        .into());
    }
    let token = token::generate("kfa_");
    state
        .store
        .create_session(
            &token::hash(&token),
            user.id,
            Millis(Millis::now().0 + SESSION_TTL_MS),
        )
        .await?;
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        SESSION_TTL_MS / 1000
    );
    // Signed in: the status the agent chose last (online at first).
    let user = state.services.presence.login(&user).await?;
    let mut response = Json(LoginResponse { token, user }).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, v);
    }
    Ok(response)
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "agents",
    responses((status = 204, description = "the session is deleted server-side and its sockets are closed")),
    security(("bearer" = [])))]
pub async fn logout(State(state): State<AppState>, agent: Agent) -> ApiResult<Response> {
    state
        .services
        .members
        .logout(&agent.user, &agent.session_hash())
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, v);
    }
    Ok(response)
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub user: User,
    pub shop: MeShop,
}

/// The caller's shop as the console needs it on every page.
#[derive(Serialize, ToSchema)]
pub struct MeShop {
    pub id: Id,
    pub slug: String,
    pub name: String,
    /// The zone every time and day in the console is shown in (e.g. `Asia/Shanghai`).
    pub time_zone: String,
}

#[utoipa::path(get, path = "/api/v1/me", tag = "agents", responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn me(State(state): State<AppState>, agent: Agent) -> ApiResult<Json<MeResponse>> {
    let shop = state
        .store
        .shop_by_id(agent.user.shop_id)
        .await?
        .ok_or_else(|| Error::not_found("shop"))?;
    Ok(Json(MeResponse {
        user: agent.user,
        shop: MeShop {
            id: shop.id,
            slug: shop.slug,
            name: shop.name,
            time_zone: shop.settings.time_zone,
        },
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct StatusRequest {
    /// `online`, `busy` (keeps their chats, gets no new ones), `away` or `offline`. The first
    /// three are remembered: a later sign-in or reconnect restores the last one.
    pub status: String,
    /// A note for `away` or `busy` (午休, 培训 …; at most 20 characters).
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserResponse {
    pub user: User,
}

#[utoipa::path(put, path = "/api/v1/me/status", tag = "agents", request_body = StatusRequest,
    responses((status = 200, body = UserResponse), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_my_status(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(req): ApiJson<StatusRequest>,
) -> ApiResult<Json<UserResponse>> {
    let status = AgentStatus::parse(&req.status)
        .map_err(|_| Error::invalid("status", "must be online, busy, away or offline"))?;
    let user = state
        .services
        .presence
        .choose(&agent.user, status, req.note.as_deref())
        .await?;
    Ok(Json(UserResponse { user }))
}

#[derive(Serialize, ToSchema)]
pub struct AgentsResponse {
    pub agents: Vec<AgentSummary>,
}

#[utoipa::path(get, path = "/api/v1/agents", tag = "agents",
    responses((status = 200, description = "the shop's members, oldest first; admins and supervisors also get deactivated ones (`active: false`)", body = AgentsResponse)),
    security(("bearer" = [])))]
pub async fn list_agents(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<AgentsResponse>> {
    Ok(Json(AgentsResponse {
        agents: state.services.members.list(&agent.user).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct CapRequest {
    /// 1-100 conversations at once, or `null` for the shop's default.
    pub max_concurrent: Option<i64>,
}

#[utoipa::path(put, path = "/api/v1/agents/{id}/cap", tag = "agents", params(("id" = i64, Path)),
    request_body = CapRequest,
    responses((status = 200, body = UserResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_agent_cap(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<CapRequest>,
) -> ApiResult<Json<UserResponse>> {
    let user = state
        .services
        .chat
        .set_agent_cap(&agent.user, id, req.max_concurrent)
        .await?;
    Ok(Json(UserResponse { user }))
}

#[utoipa::path(post, path = "/api/v1/agents/{id}/unlock", tag = "agents", params(("id" = i64, Path)),
    responses((status = 204, description = "the account's sign-in wait is lifted"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
/// Lifts the wait a member's account is under after wrong passwords (admins only).
pub async fn unlock_agent(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    if agent.user.role != Role::Admin {
        return Err(Error::forbidden("only admins unlock accounts").into());
    }
    let member = state
        .store
        .user_by_id(agent.user.shop_id, id)
        .await?
        .ok_or_else(|| Error::not_found("agent"))?;
    state.login_guard.clear(&member.email);
    tracing::info!(
        admin = agent.user.id,
        member = member.id,
        "sign-in wait lifted"
    );
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct TeamsResponse {
    pub teams: Vec<Team>,
}

#[utoipa::path(get, path = "/api/v1/teams", tag = "agents", responses((status = 200, body = TeamsResponse)), security(("bearer" = [])))]
pub async fn list_teams(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<TeamsResponse>> {
    Ok(Json(TeamsResponse {
        teams: state.store.list_teams(agent.user.shop_id).await?,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct ConversationListQuery {
    /// `open`, `pending` or `resolved`; all when absent.
    pub status: Option<String>,
    /// `me`, `unassigned` or `all` (default).
    pub assignee: Option<String>,
    /// At most this many (default 100, max 500).
    pub limit: Option<i64>,
    /// Only conversations carrying this tag.
    pub tag: Option<String>,
    /// Only customers of this tier: key|suitable|general (computed segments).
    pub tier: Option<String>,
    /// Only customers of this value-added group: high_volume|long_standing|key|demanding.
    pub group: Option<String>,
    /// Only customers of this RFM segment, e.g. important_value.
    pub rfm: Option<String>,
    /// Only customers at churn risk: any|low|medium|high.
    pub churn: Option<String>,
    /// `recent` (default: latest activity first) or `waiting` (the longest-waiting shopper
    /// first, then the conversations where nothing waits by activity).
    pub sort: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationsResponse {
    pub conversations: Vec<Conversation>,
}

#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", params(ConversationListQuery),
    responses((status = 200, body = ConversationsResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_conversations(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<ConversationListQuery>,
) -> ApiResult<Json<ConversationsResponse>> {
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(ConversationStatus::parse)
        .transpose()?;
    let assignee = match q.assignee.as_deref().unwrap_or("all") {
        "me" => AssigneeFilter::Me,
        "unassigned" => AssigneeFilter::Unassigned,
        "all" | "" => AssigneeFilter::All,
        other => {
            return Err(Error::validation(format!("unknown assignee filter '{other}'")).into());
        }
    };
    let tag_id = match q.tag.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(tag) => {
            let tag = kefu_core::tools::normalize_tag(tag)?;
            match state
                .store
                .conversation_tag_id(agent.user.shop_id, &tag)
                .await?
            {
                Some(id) => Some(id),
                // A tag nobody has used carries no conversations.
                None => {
                    return Ok(Json(ConversationsResponse {
                        conversations: vec![],
                    }));
                }
            }
        }
    };
    let query = ConversationQuery {
        status,
        assignee,
        viewer_id: agent.user.id,
        viewer_role: agent.user.role,
        tag_id,
        segment: crate::routes::segments::parse_filter(&q.tier, &q.group, &q.rfm, &q.churn)?,
        sort: ConversationSort::parse(q.sort.as_deref().unwrap_or_default())?,
        limit: q.limit.unwrap_or(100).clamp(1, 500),
    };
    let conversations = state
        .store
        .list_conversations(agent.user.shop_id, query)
        .await?;
    Ok(Json(ConversationsResponse { conversations }))
}

#[derive(Serialize, ToSchema)]
pub struct ConversationResponse {
    pub conversation: Conversation,
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = i64, Path)), responses((status = 200, body = ConversationResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_conversation(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<ConversationResponse>> {
    // Also a conversation the agent was mentioned in, or the shopper's history (tools.rs).
    Ok(Json(ConversationResponse {
        conversation: state
            .services
            .tools
            .readable_conversation(&agent.user, id)
            .await?,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct MessagesQuery {
    /// Only messages after this seq (default 0: from the start).
    pub after_seq: Option<i64>,
    /// At most this many (default 200, max 1000).
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct MessagesResponse {
    pub messages: Vec<Message>,
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = i64, Path), MessagesQuery),
    responses((status = 200, body = MessagesResponse), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_messages(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> ApiResult<Json<MessagesResponse>> {
    state
        .services
        .tools
        .readable_conversation(&agent.user, id)
        .await?;
    let after = q.after_seq.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let messages = state
        .store
        .messages(agent.user.shop_id, id, after, limit, true)
        .await?;
    Ok(Json(MessagesResponse { messages }))
}

#[derive(Deserialize, ToSchema)]
pub struct SendRequest {
    pub body: String,
    /// The sender's own id for this message: a retry with the same id stores nothing new.
    pub client_msg_id: String,
    /// An internal note, never shown to the shopper.
    #[serde(default)]
    pub private: bool,
    /// Agents of the shop @mentioned in this internal note (`private` must be true); each is
    /// notified live (`mention` event).
    #[serde(default)]
    pub mentions: Vec<Id>,
    /// The script this message was written from (the composer's picker): its use is recorded
    /// for the script's statistics. A script the caller cannot use is ignored, never an error.
    #[serde(default)]
    pub script_id: Option<Id>,
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = i64, Path)), request_body = SendRequest,
    responses((status = 201, body = Message), (status = 200, description = "a retry: the original message", body = Message),
        (status = 404, body = ErrorBody),
        (status = 422, description = "bad input, or `missing_variables`: the text still holds a script variable such as `{order.no}`", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn send_message(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<SendRequest>,
) -> ApiResult<Response> {
    // A shopper must never see `{customer.name}`: a script's missing value is filled or removed
    // by the agent first. Notes stay free-form.
    if !req.private {
        kefu_service::scripts::refuse_unfilled(&req.body)?;
    }
    // Notes go through the tools flow: @mentions, and notes by mentioned agents (tools.rs).
    let sent = if req.private {
        state
            .services
            .tools
            .note_with_mentions(
                &agent.user,
                id,
                &req.body,
                &req.client_msg_id,
                &req.mentions,
            )
            .await?
    } else if !req.mentions.is_empty() {
        return Err(Error::validation("mentions: only internal notes mention agents").into());
    } else {
        state
            .services
            .chat
            .agent_message(&agent.user, id, &req.body, &req.client_msg_id, false)
            .await?
    };
    if let Some(script_id) = req.script_id
        && !sent.duplicate
    {
        state
            .services
            .scripts
            .record_script_use_quietly(&agent.user, script_id, id, sent.message.id)
            .await;
    }
    let status = if sent.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(sent.message)).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct AssignRequest {
    /// Assign to this agent (of the same shop).
    pub agent_id: Option<Id>,
    /// Hand to this team's queue: a team id or name.
    #[schema(value_type = Option<Object>)]
    pub team: Option<serde_json::Value>,
    /// A note for colleagues, stored as an internal system message.
    pub note: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/assign", tag = "conversations",
    params(("id" = i64, Path)), request_body = AssignRequest,
    responses((status = 200, body = ConversationResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn assign(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<AssignRequest>,
) -> ApiResult<Json<ConversationResponse>> {
    let team_id = match &req.team {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => Some(
            n.as_i64()
                .ok_or_else(|| Error::validation("team must be an id or a name"))?,
        ),
        Some(serde_json::Value::String(name)) => {
            let teams = state.store.list_teams(agent.user.shop_id).await?;
            Some(
                teams
                    .into_iter()
                    .find(|t| &t.name == name)
                    .ok_or_else(|| Error::not_found("team"))?
                    .id,
            )
        }
        Some(_) => return Err(Error::validation("team must be an id or a name").into()),
    };
    if req.agent_id.is_none() && team_id.is_none() {
        return Err(Error::validation("give agent_id or team").into());
    }
    if req
        .note
        .as_deref()
        .is_some_and(|n| n.chars().count() > 1000)
    {
        return Err(Error::validation("note must be at most 1000 characters").into());
    }
    let conversation = state
        .services
        .chat
        .assign(&agent.user, id, req.agent_id, team_id, req.note.as_deref())
        .await?;
    Ok(Json(ConversationResponse { conversation }))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/status", tag = "conversations",
    params(("id" = i64, Path)), request_body = StatusRequest,
    responses((status = 200, body = ConversationResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_status(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<StatusRequest>,
) -> ApiResult<Json<ConversationResponse>> {
    let status = ConversationStatus::parse(&req.status)?;
    let conversation = state
        .services
        .chat
        .set_status(&agent.user, id, status)
        .await?;
    Ok(Json(ConversationResponse { conversation }))
}

#[derive(Deserialize, ToSchema)]
pub struct ReadRequest {
    pub seq: i64,
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "conversations",
    params(("id" = i64, Path)), request_body = ReadRequest,
    responses((status = 200, body = ConversationResponse), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn mark_read(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<ReadRequest>,
) -> ApiResult<Json<ConversationResponse>> {
    let conversation = state
        .services
        .chat
        .agent_read(&agent.user, id, req.seq)
        .await?;
    Ok(Json(ConversationResponse { conversation }))
}

#[utoipa::path(get, path = "/api/v1/shop/settings", tag = "shop",
    responses((status = 200, body = ShopSettings)), security(("bearer" = [])))]
pub async fn get_settings(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<ShopSettings>> {
    let shop = state
        .store
        .shop_by_id(agent.user.shop_id)
        .await?
        .ok_or_else(|| Error::not_found("shop"))?;
    Ok(Json(shop.settings))
}

#[utoipa::path(put, path = "/api/v1/shop/settings", tag = "shop", request_body = ShopSettings,
    responses((status = 200, body = ShopSettings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_settings(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(settings): ApiJson<ShopSettings>,
) -> ApiResult<Json<ShopSettings>> {
    if agent.user.role != Role::Admin {
        return Err(Error::forbidden("only admins change shop settings").into());
    }
    let settings = settings.normalized();
    settings.validate()?;
    if kefu_core::tools::fixed_utc_offset(&settings.time_zone).is_none() {
        return Err(Error::validation(format!(
            "time_zone: '{}' is not one of the zones without daylight saving",
            settings.time_zone
        ))
        .into());
    }
    let shop = state
        .store
        .update_shop_settings(agent.user.shop_id, &settings)
        .await?;
    state
        .widget_origins
        .put(shop.id, shop.settings.widget_origins.clone());
    // A higher cap may free agents for waiting shoppers.
    state.services.routing.route(shop.id, None).await?;
    Ok(Json(shop.settings))
}
