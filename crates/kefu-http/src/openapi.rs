//! The OpenAPI 3 document, generated from the handlers' annotations (served at
//! `/api/v1/openapi.json`; a test checks every route is in it). The live frames of the WebSockets
//! are in it as the `ServerFrame` schema.

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes::{
    aftersales, agent, attachments, commerce, customers, demo, inbox, kpi, mail, members,
    reminders, reports, reviews, scripts, search, segments, sla, suggest, tickets, tools, widget,
    ws,
};
use kefu_core::model::*;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "kefu API", version = "1", description = "Customer service for e-commerce shops: agents, shoppers, live chat."),
    paths(
        crate::routes::healthz, crate::routes::readyz,
        agent::login, agent::logout, agent::me, agent::set_my_status, agent::list_agents, agent::set_agent_cap, agent::unlock_agent, agent::list_teams,
        agent::list_conversations, agent::get_conversation, agent::list_messages, agent::send_message,
        agent::assign, agent::set_status, agent::mark_read, agent::get_settings, agent::put_settings,
        widget::config, widget::products, widget::create_session, widget::rotate_session, widget::end_session, widget::send, widget::history, widget::read,
        ws::agent_ws, ws::visitor_ws,
    ),
    components(schemas(ErrorBody, ErrorDetail, crate::routes::Readiness, User, Role, AgentStatus, Team, TeamRef, Conversation, ConversationStatus,
        Message, SenderType, CustomerRef, Shop, ShopSettings, PrechatForm, PrechatField, Product, AgentSummary,
        kefu_core::frames::ServerFrame, kefu_core::frames::ShopperConversation)),
    modifiers(&SecurityAddon),
)]
struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer =
            || SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        components.add_security_scheme("bearer", bearer());
        components.add_security_scheme("visitor", bearer());
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(customers::ApiDoc::openapi());
    doc.merge(commerce::ApiDoc::openapi());
    doc.merge(segments::ApiDoc::openapi());
    doc.merge(reminders::ApiDoc::openapi());
    doc.merge(suggest::ApiDoc::openapi());
    doc.merge(scripts::ApiDoc::openapi());
    doc.merge(search::ApiDoc::openapi());
    doc.merge(demo::ApiDoc::openapi());
    doc.merge(attachments::ApiDoc::openapi());
    doc.merge(tools::ApiDoc::openapi());
    doc.merge(mail::ApiDoc::openapi());
    doc.merge(members::ApiDoc::openapi());
    doc.merge(sla::ApiDoc::openapi());
    doc.merge(tickets::ApiDoc::openapi());
    doc.merge(aftersales::ApiDoc::openapi());
    doc.merge(reviews::ApiDoc::openapi());
    doc.merge(inbox::ApiDoc::openapi());
    doc.merge(reports::ApiDoc::openapi());
    doc.merge(kpi::ApiDoc::openapi());
    doc
}
