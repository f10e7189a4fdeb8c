//! Endpoints of outbound e-mail: the shop's SMTP settings (admins), a test send, whether mail is
//! configured (every agent: the ticket view says so), and the outbox. Flows are in `kefu_service::mail`.

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_core::Error;
use kefu_core::mail::*;
use kefu_core::model::{Id, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/settings/mail",
            get(get_mail_settings).put(put_mail_settings),
        )
        .route("/api/v1/settings/mail/test", post(test_mail))
        .route("/api/v1/mail/status", get(mail_status))
        .route("/api/v1/mail/outbox", get(list_outbox))
        .route("/api/v1/tickets/{id}/mail", get(ticket_mail))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        get_mail_settings,
        put_mail_settings,
        test_mail,
        mail_status,
        list_outbox,
        ticket_mail
    ),
    components(schemas(
        MailSettings,
        MailSettingsView,
        MailSettingsInput,
        SmtpSecurity,
        MailStatus,
        OutboxMail,
        TestMailRequest,
        TestMailResponse,
        MailStatusResponse,
        OutboxResponse,
        kefu_service::mail::TicketMail
    ))
)]
pub struct ApiDoc;

fn require_admin(agent: &Agent, what: &str) -> Result<(), Error> {
    if agent.user.role != Role::Admin {
        return Err(Error::forbidden(format!("only admins {what}")));
    }
    Ok(())
}

fn view(stored: Option<(MailSettings, SmtpPassword)>) -> MailSettingsView {
    let (settings, password) = stored.unwrap_or_else(|| {
        (
            MailSettings {
                enabled: false,
                host: String::new(),
                port: 587,
                security: SmtpSecurity::Starttls,
                username: String::new(),
                from_address: String::new(),
                from_name: String::new(),
            },
            SmtpPassword::default(),
        )
    });
    MailSettingsView {
        configured: settings.is_complete(),
        password_set: !password.0.is_empty(),
        settings,
    }
}

#[utoipa::path(get, path = "/api/v1/settings/mail", tag = "mail",
    responses((status = 200, body = MailSettingsView), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_mail_settings(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<MailSettingsView>> {
    require_admin(&agent, "see the mail settings")?;
    Ok(Json(view(
        state.store.mail_settings(agent.user.shop_id).await?,
    )))
}

#[utoipa::path(put, path = "/api/v1/settings/mail", tag = "mail", request_body = MailSettingsInput,
    responses((status = 200, body = MailSettingsView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_mail_settings(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(input): ApiJson<MailSettingsInput>,
) -> ApiResult<Json<MailSettingsView>> {
    require_admin(&agent, "change the mail settings")?;
    let mut settings = input.settings;
    settings.host = settings.host.trim().to_string();
    settings.from_address = settings.from_address.trim().to_string();
    settings.validate()?;
    if input.password.as_deref().is_some_and(|p| p.len() > 512) {
        return Err(Error::validation("password is limited to 512 bytes").into());
    }
    let shop_id = agent.user.shop_id;
    state
        .store
        .put_mail_settings(shop_id, &settings, input.password.map(SmtpPassword))
        .await?;
    Ok(Json(view(state.store.mail_settings(shop_id).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct TestMailRequest {
    /// Where to send the test mail.
    pub to: String,
}

#[derive(Serialize, ToSchema)]
pub struct TestMailResponse {
    pub sent: bool,
}

#[utoipa::path(post, path = "/api/v1/settings/mail/test", tag = "mail", request_body = TestMailRequest,
    responses((status = 200, body = TestMailResponse),
        (status = 422, body = ErrorBody, description = "not configured, a bad address, or the SMTP server's refusal"),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn test_mail(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(req): ApiJson<TestMailRequest>,
) -> ApiResult<Json<TestMailResponse>> {
    require_admin(&agent, "send test mail")?;
    state
        .services
        .mail
        .send_test(agent.user.shop_id, &req.to)
        .await?;
    Ok(Json(TestMailResponse { sent: true }))
}

#[derive(Serialize, ToSchema)]
pub struct MailStatusResponse {
    /// Replies to shoppers with a known e-mail address are mailed.
    pub configured: bool,
}

#[utoipa::path(get, path = "/api/v1/mail/status", tag = "mail",
    responses((status = 200, body = MailStatusResponse)), security(("bearer" = [])))]
pub async fn mail_status(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<MailStatusResponse>> {
    Ok(Json(MailStatusResponse {
        configured: state
            .services
            .mail
            .mail_configured(agent.user.shop_id)
            .await?,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct OutboxQuery {
    /// Only the mails of this ticket.
    pub ticket_id: Option<Id>,
    /// 1-200 (default 50), newest first.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct OutboxResponse {
    pub mails: Vec<OutboxMail>,
}

#[utoipa::path(get, path = "/api/v1/mail/outbox", tag = "mail", params(OutboxQuery),
    responses((status = 200, body = OutboxResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_outbox(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> ApiResult<Json<OutboxResponse>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::validation("limit: must be 1-200").into());
    }
    // A ticket's own mails are at /tickets/{id}/mail for whoever may see the ticket.
    if agent.user.role == Role::Agent {
        return Err(Error::forbidden("only admins and supervisors see the outbox").into());
    }
    let mails = state
        .store
        .list_outbox(agent.user.shop_id, q.ticket_id, limit)
        .await?;
    Ok(Json(OutboxResponse { mails }))
}

#[utoipa::path(get, path = "/api/v1/tickets/{id}/mail", tag = "mail", params(("id" = i64, Path)),
    responses((status = 200, body = kefu_service::mail::TicketMail), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn ticket_mail(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<kefu_service::mail::TicketMail>> {
    let ticket = state
        .services
        .tickets
        .visible_ticket(&agent.user, id)
        .await?;
    Ok(Json(state.services.mail.ticket_mail(&ticket).await?))
}
