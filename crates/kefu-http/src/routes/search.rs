//! Full-text search for agents: `GET /api/v1/search`.
//!
//! The query text is never an error: it is parsed by kefu itself (`kefu_search::index::parse_query`),
//! so any input gives a (possibly empty) result. Filters with unknown values are a 422. While the
//! index is being rebuilt the answer is `200 {"status":"rebuilding","results":[]}`; clients retry.
//! Agents see hits of their own and unassigned conversations, admins and supervisors the whole
//! shop — the rule of the conversation list. Shoppers have no access (private notes stay internal).

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiQuery, ApiResult, ErrorBody};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use kefu_core::Error;
use kefu_core::model::{ConversationStatus, Id};
use kefu_core::time::Millis;
use kefu_search::index::{self, DocKind, SearchQuery, Viewer};
use kefu_service::search::Outcome;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/search", get(search))
}

/// This area's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(search),
    components(schemas(SearchResponse, SearchGroup, SearchHit, Snippet, RecordHit))
)]
pub struct ApiDoc;

#[derive(Deserialize, IntoParams, Default)]
pub struct SearchParams {
    /// The query: words (Chinese, English, mixed; all must match), `"quoted phrases"`, phone
    /// numbers (whole or the last 4+ digits), e-mails, order numbers (whole, tail or head).
    /// Other syntax has no meaning and is never an error. At most 200 characters are used.
    pub q: Option<String>,
    /// `message`, `conversation`, `customer` or `script`; several separated by commas. Default all.
    pub kind: Option<String>,
    /// Conversation status: `open`, `pending`, `resolved` (messages and conversations only).
    pub status: Option<String>,
    /// Conversation channel (`web`).
    pub channel: Option<String>,
    /// Conversations assigned to this agent id (`0`: unassigned).
    pub agent_id: Option<Id>,
    /// Conversations of this team id.
    pub team: Option<Id>,
    /// Created at or after: RFC 3339 or `YYYY-MM-DD` (UTC midnight).
    pub from: Option<String>,
    /// Created before: RFC 3339, or `YYYY-MM-DD` (the whole day included).
    pub to: Option<String>,
    /// Tag (any case): customers with it; conversations carrying it or whose customer does, and
    /// their messages; scripts with it.
    pub tag: Option<String>,
    /// Hits per kind (default 10, max 50).
    pub limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResponse {
    /// `ready`, `rebuilding` (the index is being rebuilt from the database; `results` is empty,
    /// retry shortly) or `disabled` (this server runs without a search index).
    pub status: String,
    /// One group per kind asked for, in the order message, conversation, customer, script.
    pub results: Vec<SearchGroup>,
    /// Records the query names by their number — a ticket (`T-000005`, `t5`) or an after-sales
    /// request (`AS-000007`, `as7`) the caller may see — found in the database, so they are
    /// there while the index rebuilds too. Empty for any other query.
    pub records: Vec<RecordHit>,
}

/// A ticket or after-sales request named by its number.
#[derive(Serialize, ToSchema)]
pub struct RecordHit {
    /// `ticket` or `aftersales`.
    pub kind: String,
    pub id: Id,
    /// `T-000005` or `AS-000007`.
    pub number: String,
    /// The ticket's subject, or the request's order number.
    pub title: String,
    /// The ticket's status or the request's state (wire values).
    pub status: String,
    pub customer_name: Option<String>,
    #[schema(value_type = String)]
    pub created_at: Millis,
}

#[derive(Serialize, ToSchema)]
pub struct SearchGroup {
    pub kind: String,
    pub hits: Vec<SearchHit>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchHit {
    pub kind: String,
    pub id: Id,
    pub score: f32,
    /// The conversation to open (messages, conversations).
    pub conversation_id: Option<Id>,
    /// The customer (customers, conversations; messages when known).
    pub customer_id: Option<Id>,
    /// Customer name, script title, or a message's sender.
    pub title: String,
    pub snippet: Snippet,
    #[schema(value_type = String)]
    pub created_at: Millis,
    /// Conversation status (conversations, messages).
    pub status: Option<String>,
    /// A private note (agents only).
    pub private: bool,
}

/// Plain text (never HTML) and the ranges to highlight: `[from, to)` in UTF-16 code units, as
/// JavaScript's `String.prototype.slice` counts.
#[derive(Serialize, ToSchema)]
pub struct Snippet {
    pub text: String,
    pub highlights: Vec<[usize; 2]>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// RFC 3339 or a date (`YYYY-MM-DD`, UTC); `end_of_day` moves a date to the next midnight.
fn parse_time(field: &str, v: &str, end_of_day: bool) -> Result<i64, Error> {
    if let Ok(Millis(ms)) = serde_json::from_value::<Millis>(serde_json::Value::String(v.into())) {
        return Ok(ms);
    }
    let bad = || Error::validation(format!("{field}: expected RFC 3339 or YYYY-MM-DD"));
    let mut parts = v.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (Some(Some(y)), Some(Some(m)), Some(Some(d))) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let days = days_from_civil(y, m, d) + i64::from(end_of_day);
    Ok(days * 86_400_000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(
            super::parse_time("from", "1970-01-02", false).unwrap(),
            86_400_000
        );
        assert_eq!(
            super::parse_time("to", "2026-11-23", true).unwrap(),
            1_795_478_400_000
        );
        assert!(super::parse_time("from", "yesterday", false).is_err());
        assert_eq!(
            super::parse_time("from", "2026-11-23T00:00:00Z", false).unwrap(),
            1_795_392_000_000
        );
    }
}

#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchParams),
    responses((status = 200, body = SearchResponse), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn search(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> ApiResult<Json<SearchResponse>> {
    let mut kinds = Vec::new();
    if let Some(k) = given(&p.kind) {
        for k in k.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            kinds.push(DocKind::parse(k).ok_or_else(|| {
                Error::validation("kind: must be message, conversation, customer or script")
            })?);
        }
    }
    let status = given(&p.status)
        .map(|s| {
            ConversationStatus::parse(s)
                .map(|s| s.as_str().to_owned())
                .map_err(|_| Error::validation("status: must be open, pending or resolved"))
        })
        .transpose()?;
    let from = given(&p.from)
        .map(|v| parse_time("from", v, false))
        .transpose()?;
    let to = given(&p.to)
        .map(|v| parse_time("to", v, true))
        .transpose()?;
    let user = &agent.user;
    let text = p.q.unwrap_or_default();
    let mut records = Vec::new();
    if let Some(t) = state.services.tickets.by_typed_number(user, &text).await? {
        records.push(RecordHit {
            kind: "ticket".into(),
            id: t.id,
            number: t.display_number,
            title: t.subject,
            status: t.status.as_str().into(),
            customer_name: t.customer.map(|c| c.name),
            created_at: t.created_at,
        });
    }
    if let Some(r) = state
        .services
        .aftersales
        .by_typed_number(user, &text)
        .await?
    {
        records.push(RecordHit {
            kind: "aftersales".into(),
            id: r.id,
            number: r.no,
            title: r.order_no,
            status: r.state.as_str().into(),
            customer_name: Some(r.customer.name),
            created_at: r.created_at,
        });
    }
    let q = SearchQuery {
        shop_id: user.shop_id,
        viewer: Viewer {
            agent_id: user.id,
            sees_whole_shop: user.role.sees_whole_shop(),
        },
        text,
        kinds: kinds.clone(),
        status,
        channel: given(&p.channel).map(str::to_owned),
        agent_id: p.agent_id,
        team_id: p.team,
        from,
        to,
        tag: given(&p.tag).map(str::to_owned),
        limit: p.limit.unwrap_or(10).clamp(1, index::MAX_LIMIT),
    };
    let Some(svc) = state.services.search.clone() else {
        return Ok(Json(SearchResponse {
            status: "disabled".into(),
            results: Vec::new(),
            records,
        }));
    };
    Ok(Json(match svc.search(q).await {
        Outcome::Rebuilding => SearchResponse {
            status: "rebuilding".into(),
            results: Vec::new(),
            records,
        },
        Outcome::Ready(r) => SearchResponse {
            status: "ready".into(),
            results: r
                .groups
                .into_iter()
                .map(|(kind, hits)| SearchGroup {
                    kind: kind.as_str().into(),
                    hits: hits
                        .into_iter()
                        .map(|h| SearchHit {
                            kind: h.kind.into(),
                            id: h.id,
                            score: h.score,
                            conversation_id: h.conversation_id,
                            customer_id: h.customer_id,
                            title: h.title,
                            snippet: Snippet {
                                text: h.snippet.text,
                                highlights: h
                                    .snippet
                                    .highlights
                                    .into_iter()
                                    .map(|(a, b)| [a, b])
                                    .collect(),
                            },
                            created_at: Millis(h.created_at),
                            status: h.status,
                            private: h.private,
                        })
                        .collect(),
                })
                .collect(),
            records,
        },
    }))
}
