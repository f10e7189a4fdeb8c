//! Endpoints of the agent's daily tools: mentions, conversation tags, snooze, a shopper's
//! conversations, auto-reply rules. Flows and entitlement rules are in `kefu_service::tools`.

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use crate::routes::agent::{ConversationResponse, ConversationsResponse};
use axum::extract::State;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use kefu_core::model::*;
use kefu_core::time::Millis;
use kefu_core::tools::*;
use kefu_core::{Error, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/mentions", get(list_mentions))
        .route("/api/v1/mentions/read", post(read_mentions))
        .route("/api/v1/mentions/{id}/read", post(read_mention))
        .route("/api/v1/conversation-tags", get(list_tags))
        .route("/api/v1/conversations/{id}/tags", post(add_tag))
        .route("/api/v1/conversations/{id}/tags/{tag}", delete(remove_tag))
        .route("/api/v1/conversations/{id}/snooze", post(snooze))
        .route("/api/v1/conversations/{id}/unsnooze", post(unsnooze))
        .route(
            "/api/v1/customers/{id}/conversations",
            get(customer_conversations),
        )
        .route(
            "/api/v1/auto-replies",
            get(get_auto_replies).put(put_auto_replies),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_mentions,
        read_mentions,
        read_mention,
        list_tags,
        add_tag,
        remove_tag,
        snooze,
        unsnooze,
        customer_conversations,
        get_auto_replies,
        put_auto_replies
    ),
    components(schemas(
        Mention,
        AgentRef,
        TagCount,
        AutoReplyRules,
        BusinessHours,
        TimeRange,
        AfterHoursReply,
        KeywordRule,
        MatchMode,
        MentionsResponse,
        ReadMentionsRequest,
        ReadResponse,
        TagsResponse,
        TagRequest,
        SnoozeRequest,
        AutoRepliesResponse
    ))
)]
pub struct ApiDoc;

#[derive(Deserialize, IntoParams)]
pub struct MentionsQuery {
    /// Only unread mentions (`true`/`false`, default false).
    pub unread: Option<bool>,
    /// 1-200 (default 50), newest first.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct MentionsResponse {
    pub mentions: Vec<Mention>,
}

#[utoipa::path(get, path = "/api/v1/mentions", tag = "tools", params(MentionsQuery),
    responses((status = 200, body = MentionsResponse), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_mentions(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<MentionsQuery>,
) -> ApiResult<Json<MentionsResponse>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::validation("limit: must be 1-200").into());
    }
    let mentions = state
        .store
        .mentions(
            agent.user.shop_id,
            agent.user.id,
            q.unread.unwrap_or(false),
            limit,
        )
        .await?;
    Ok(Json(MentionsResponse { mentions }))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct ReadMentionsRequest {
    /// Only the mentions in this conversation; all of mine when absent.
    pub conversation_id: Option<Id>,
}

#[derive(Serialize, ToSchema)]
pub struct ReadResponse {
    /// How many mentions became read.
    pub changed: i64,
}

#[utoipa::path(post, path = "/api/v1/mentions/read", tag = "tools", request_body = ReadMentionsRequest,
    responses((status = 200, body = ReadResponse), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn read_mentions(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(req): ApiJson<ReadMentionsRequest>,
) -> ApiResult<Json<ReadResponse>> {
    let changed = state
        .store
        .mark_mentions_read(agent.user.shop_id, agent.user.id, None, req.conversation_id)
        .await?;
    Ok(Json(ReadResponse { changed }))
}

#[utoipa::path(post, path = "/api/v1/mentions/{id}/read", tag = "tools", params(("id" = i64, Path)),
    responses((status = 200, body = ReadResponse), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn read_mention(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<ReadResponse>> {
    let changed = state
        .store
        .mark_mentions_read(agent.user.shop_id, agent.user.id, Some(id), None)
        .await?;
    Ok(Json(ReadResponse { changed }))
}

#[derive(Serialize, ToSchema)]
pub struct TagsResponse {
    pub tags: Vec<TagCount>,
}

#[utoipa::path(get, path = "/api/v1/conversation-tags", tag = "tools",
    responses((status = 200, body = TagsResponse)), security(("bearer" = [])))]
pub async fn list_tags(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<TagsResponse>> {
    Ok(Json(TagsResponse {
        tags: state.store.conversation_tags(agent.user.shop_id).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct TagRequest {
    /// 1-32 characters; created in the shop's vocabulary on first use.
    pub tag: String,
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/tags", tag = "tools", params(("id" = i64, Path)),
    request_body = TagRequest,
    responses((status = 200, body = ConversationResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_tag(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<TagRequest>,
) -> ApiResult<Json<ConversationResponse>> {
    let conversation = state
        .services
        .tools
        .add_tag(&agent.user, id, &req.tag)
        .await?;
    Ok(Json(ConversationResponse { conversation }))
}

#[utoipa::path(delete, path = "/api/v1/conversations/{id}/tags/{tag}", tag = "tools",
    params(("id" = i64, Path), ("tag" = String, Path, description = "the tag name, URL-encoded")),
    responses((status = 200, body = ConversationResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove_tag(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath((id, tag)): ApiPath<(Id, String)>,
) -> ApiResult<Json<ConversationResponse>> {
    let conversation = state
        .services
        .tools
        .remove_tag(&agent.user, id, &tag)
        .await?;
    Ok(Json(ConversationResponse { conversation }))
}

#[derive(Deserialize, ToSchema)]
pub struct SnoozeRequest {
    /// When it reopens: RFC 3339 (or milliseconds since the epoch), in the future, at most 90
    /// days ahead.
    #[schema(value_type = String, format = DateTime)]
    pub until: Millis,
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/snooze", tag = "tools", params(("id" = i64, Path)),
    request_body = SnoozeRequest,
    responses((status = 200, body = ConversationResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn snooze(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<SnoozeRequest>,
) -> ApiResult<Json<ConversationResponse>> {
    let conversation = state
        .services
        .tools
        .snooze(&agent.user, id, req.until)
        .await?;
    Ok(Json(ConversationResponse { conversation }))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/unsnooze", tag = "tools", params(("id" = i64, Path)),
    responses((status = 200, body = ConversationResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn unsnooze(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<ConversationResponse>> {
    let conversation = state.services.tools.unsnooze(&agent.user, id).await?;
    Ok(Json(ConversationResponse { conversation }))
}

#[derive(Deserialize, IntoParams)]
pub struct CustomerConversationsQuery {
    /// 1-100 (default 20), newest first.
    pub limit: Option<i64>,
}

/// A shopper's conversations, newest first. Every agent of the shop may list them (like the
/// customer timeline); reading an earlier one's messages follows the history rule in
/// `kefu_service::tools`.
#[utoipa::path(get, path = "/api/v1/customers/{id}/conversations", tag = "tools",
    params(("id" = i64, Path), CustomerConversationsQuery),
    responses((status = 200, body = ConversationsResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn customer_conversations(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiQuery(q): ApiQuery<CustomerConversationsQuery>,
) -> ApiResult<Json<ConversationsResponse>> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Error::validation("limit: must be 1-100").into());
    }
    state
        .store
        .customer_profile(agent.user.shop_id, id)
        .await?
        .ok_or_else(|| Error::not_found("customer"))?;
    let conversations = state
        .store
        .customer_conversations(agent.user.shop_id, id, limit)
        .await?;
    Ok(Json(ConversationsResponse { conversations }))
}

#[derive(Serialize, ToSchema)]
pub struct AutoRepliesResponse {
    pub rules: AutoReplyRules,
    /// The time zones business hours may use.
    pub time_zones: Vec<String>,
    /// Whether the shop is within business hours right now.
    pub open_now: bool,
}

fn auto_replies_response(rules: AutoReplyRules) -> AutoRepliesResponse {
    AutoRepliesResponse {
        open_now: rules.business_hours.is_open(Millis::now()),
        rules,
        time_zones: time_zones().into_iter().map(str::to_owned).collect(),
    }
}

#[utoipa::path(get, path = "/api/v1/auto-replies", tag = "tools",
    responses((status = 200, body = AutoRepliesResponse)), security(("bearer" = [])))]
pub async fn get_auto_replies(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<AutoRepliesResponse>> {
    let rules = state
        .services
        .tools
        .auto_reply_rules(agent.user.shop_id)
        .await?;
    Ok(Json(auto_replies_response((*rules).clone())))
}

#[utoipa::path(put, path = "/api/v1/auto-replies", tag = "tools", request_body = AutoReplyRules,
    responses((status = 200, body = AutoRepliesResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_auto_replies(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(rules): ApiJson<AutoReplyRules>,
) -> ApiResult<Json<AutoRepliesResponse>> {
    if agent.user.role != Role::Admin {
        return Err(Error::forbidden("only admins change auto-replies").into());
    }
    check_scripts(&state, &agent, &rules).await?;
    let rules = state
        .services
        .tools
        .put_auto_reply_rules(agent.user.shop_id, rules)
        .await?;
    Ok(Json(auto_replies_response(rules)))
}

/// A keyword rule may name only a shop-wide script of this shop's library (a personal script
/// belongs to one agent, not to the shop's bot).
async fn check_scripts(state: &AppState, agent: &Agent, rules: &AutoReplyRules) -> Result<()> {
    for (i, rule) in rules.keywords.iter().enumerate() {
        if let Some(id) = rule.script_id {
            let found = state.store.script(agent.user.shop_id, id).await?;
            if found.is_none_or(|s| s.owner_id.is_some()) {
                return Err(Error::validation(format!(
                    "keywords[{i}]: script {id} is not a shop-wide script of this shop"
                )));
            }
        }
    }
    Ok(())
}
