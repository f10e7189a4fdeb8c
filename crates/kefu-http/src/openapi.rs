//! The OpenAPI 3 document, generated from the handlers' annotations (served at
//! `/api/v1/openapi.json`; a test checks every route is in it). The live frames of the WebSockets
//! are in it as the `ServerFrame` schema.

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes::{
    aftersales, agent, attachments, commerce, customers, demo, inbox, kpi, mail, members, presence,
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
    doc.merge(presence::ApiDoc::openapi());
    complete_error_responses(&mut doc);
    doc
}

/// Adds the refusals every operation of a kind can give, where its annotation leaves them out,
/// so the document is exact without repeating them on 200 handlers: 401 on every operation that
/// needs a token, 404 on every operation on a resource named in its path (also another shop's),
/// 422 on every operation taking a body or query parameters. Each is an [`ErrorBody`].
fn complete_error_responses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let has_path_params = path.contains('{');
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let has_query = op.parameters.as_ref().is_some_and(|ps| {
                ps.iter()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Query))
            });
            let takes_input = op.request_body.is_some() || has_query;
            let responses = &mut op.responses.responses;
            let websocket = responses.contains_key("101");
            if secured && !websocket {
                responses
                    .entry("401".into())
                    .or_insert_with(|| error("missing, invalid or expired credentials"));
            }
            if has_path_params {
                responses
                    .entry("404".into())
                    .or_insert_with(|| error("no such resource (or another shop's)"));
            }
            if takes_input && !websocket {
                responses
                    .entry("422".into())
                    .or_insert_with(|| error("the input was not accepted (`field` names it)"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two `ToSchema` types of one name silently share one schema in the document (the second
    /// answer then documents the first's shape). Every name must be unique, or renamed with
    /// `#[schema(as = …)]`.
    #[test]
    fn schema_names_are_unique() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut seen: std::collections::BTreeMap<String, String> = Default::default();
        let mut clashes = Vec::new();
        for crate_dir in ["kefu-http", "kefu-core", "kefu-service", "kefu-search"] {
            let mut stack = vec![std::path::PathBuf::from(format!("{root}/{crate_dir}/src"))];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        stack.push(path);
                        continue;
                    }
                    if path.extension().is_none_or(|e| e != "rs") {
                        continue;
                    }
                    let text = std::fs::read_to_string(&path).unwrap();
                    for name in schema_names(&text) {
                        let at = path.display().to_string();
                        if let Some(first) = seen.insert(name.clone(), at.clone()) {
                            clashes.push(format!("{name}: {first} and {at}"));
                        }
                    }
                }
            }
        }
        assert!(clashes.is_empty(), "schema name clashes: {clashes:#?}");
    }

    /// The schema names a source file declares: each `ToSchema` type's `#[schema(as = …)]` or
    /// its own name.
    fn schema_names(text: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut deriving = false;
        let mut alias: Option<String> = None;
        for line in text.lines().map(str::trim) {
            if line.starts_with("#[derive(") && line.contains("ToSchema") {
                deriving = true;
                alias = None;
            } else if deriving && line.starts_with("#[schema(as = ") {
                let rest = &line["#[schema(as = ".len()..];
                let name = rest
                    .trim_end_matches(")]")
                    .rsplit("::")
                    .next()
                    .unwrap_or(rest);
                alias = Some(name.to_owned());
            } else if deriving
                && let Some(rest) = line
                    .strip_prefix("pub struct ")
                    .or_else(|| line.strip_prefix("pub enum "))
                    .or_else(|| line.strip_prefix("struct "))
                    .or_else(|| line.strip_prefix("enum "))
            {
                let own: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                // Macro templates (`pub enum $name`) name no type of their own.
                if !own.is_empty() {
                    names.push(alias.take().unwrap_or(own));
                }
                deriving = false;
            } else if deriving
                && !(line.starts_with("#[") || line.starts_with("///") || line.is_empty())
            {
                deriving = false;
            }
        }
        names
    }

    #[test]
    fn every_operation_documents_its_refusals() {
        let doc = serde_json::to_value(document()).unwrap();
        let mut missing = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                if responses.contains_key("101") {
                    continue;
                }
                let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
                let needs = [
                    ("401", secured),
                    ("404", path.contains('{')),
                    ("422", op.get("requestBody").is_some()),
                ];
                for (code, needed) in needs {
                    if needed && !responses.contains_key(code) {
                        missing.push(format!("{method} {path}: {code}"));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "{missing:#?}");
    }
}
