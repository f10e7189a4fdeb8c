//! Automation rules on tickets: when a ticket is created or updated and every condition holds,
//! set fields, assign, add tags, send a templated public reply, notify people.
//!
//! Pure rules here — validation, condition matching, combining the actions of every matching rule
//! into one plan, reply templates — and the storage port [`AutomationStore`]. The flow that runs
//! them inside the ticket hook is `kefu-http/src/automation.rs`.
//!
//! **Loop protection.** Rules run once per ticket change made by a person or the API, in order,
//! each seeing the ticket as the rules before it left it (a rule that raises the priority makes a
//! later `priority = urgent` rule match). The combined plan is applied as *one* change by the
//! automation actor, and changes by the automation actor never run rules. So a rule can never
//! trigger itself or another rule through its own change, however the rules are written.

use crate::model::Id;
use crate::tickets::{Priority, TicketStatus};
use crate::time::Millis;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const MAX_RULES: i64 = 200;
pub const MAX_LIST: usize = 20;
pub const MAX_KEYWORD_CHARS: usize = 50;
pub const MAX_REPLY_CHARS: usize = 2000;

/// All conditions must hold; inside one list, any entry may match. Empty lists match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Conditions {
    /// Category keys; a parent category also matches its sub-categories.
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub priorities: Vec<Priority>,
    /// Found (case- and width-insensitively) in the subject, description or the new entry.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Customer tiers from segmentation: `key`, `suitable`, `general`.
    #[serde(default)]
    pub tiers: Vec<String>,
    /// RFM segment names from segmentation (e.g. `champions`).
    #[serde(default)]
    pub segments: Vec<String>,
    /// Where the ticket came from (e.g. `console`, `conversation`, `api`, `widget`).
    #[serde(default)]
    pub channels: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Actions {
    #[serde(default)]
    pub set_priority: Option<Priority>,
    #[serde(default)]
    pub set_category: Option<String>,
    #[serde(default)]
    pub set_status: Option<TicketStatus>,
    #[serde(default)]
    pub assign_agent_id: Option<Id>,
    #[serde(default)]
    pub assign_team_id: Option<Id>,
    #[serde(default)]
    pub add_tags: Vec<String>,
    /// A public reply; `{customer.name}`, `{ticket.number}`, `{ticket.subject}`, `{shop.name}` are
    /// filled in. A reply that would keep a variable without a value is not sent.
    #[serde(default)]
    pub reply: Option<String>,
    #[serde(default)]
    pub notify_user_ids: Vec<Id>,
    #[serde(default)]
    pub notify_supervisors: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct AutomationRule {
    pub id: Id,
    pub name: String,
    /// Rules run in ascending position (then id).
    pub position: i64,
    pub enabled: bool,
    pub on_create: bool,
    pub on_update: bool,
    pub conditions: Conditions,
    pub actions: Actions,
    pub created_at: Millis,
    pub updated_at: Millis,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AutomationRuleInput {
    pub name: String,
    #[serde(default)]
    pub position: i64,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "yes")]
    pub on_create: bool,
    #[serde(default)]
    pub on_update: bool,
    #[serde(default)]
    pub conditions: Conditions,
    #[serde(default)]
    pub actions: Actions,
}

fn clean_list(list: &mut Vec<String>, field: &str, max_chars: usize) -> Result<()> {
    for v in list.iter_mut() {
        *v = v.split_whitespace().collect::<Vec<_>>().join(" ");
        if v.is_empty() || v.chars().count() > max_chars {
            return Err(Error::validation(format!(
                "{field}: each entry 1-{max_chars} characters"
            )));
        }
    }
    if list.len() > MAX_LIST {
        return Err(Error::validation(format!(
            "{field}: at most {MAX_LIST} entries"
        )));
    }
    list.sort();
    list.dedup();
    Ok(())
}

impl AutomationRuleInput {
    /// Checks values (references to agents, teams and users are checked by the store).
    pub fn validated(mut self) -> Result<Self> {
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() || self.name.chars().count() > 100 {
            return Err(Error::validation("name: 1-100 characters"));
        }
        if !(-1_000_000..=1_000_000).contains(&self.position) {
            return Err(Error::validation("position: out of range"));
        }
        if !self.on_create && !self.on_update {
            return Err(Error::validation(
                "on_create: a rule must run on create, on update or both",
            ));
        }
        let c = &mut self.conditions;
        clean_list(&mut c.categories, "conditions.categories", 64)?;
        clean_list(&mut c.keywords, "conditions.keywords", MAX_KEYWORD_CHARS)?;
        clean_list(&mut c.tiers, "conditions.tiers", 16)?;
        clean_list(&mut c.segments, "conditions.segments", 64)?;
        clean_list(&mut c.channels, "conditions.channels", 32)?;
        if let Some(t) = c
            .tiers
            .iter()
            .find(|t| !crate::sla_policies::TIERS.contains(&t.as_str()))
        {
            return Err(Error::validation(format!(
                "conditions.tiers: unknown tier `{t}` (key, suitable, general)"
            )));
        }
        c.priorities.sort();
        c.priorities.dedup();
        let a = &mut self.actions;
        if let Some(cat) = &mut a.set_category {
            *cat = cat.trim().to_owned();
            if cat.is_empty() || cat.chars().count() > 64 {
                return Err(Error::validation("actions.set_category: 1-64 characters"));
            }
        }
        if let Some(TicketStatus::New | TicketStatus::Closed) = a.set_status {
            return Err(Error::validation(
                "actions.set_status: a rule may set open, pending_customer, pending_third_party or resolved",
            ));
        }
        for tag in a.add_tags.iter_mut() {
            *tag = crate::tools::normalize_tag(tag)
                .map_err(|e| Error::validation(format!("actions.add_tags: {}", e.message)))?;
        }
        if a.add_tags.len() > MAX_LIST {
            return Err(Error::validation(format!(
                "actions.add_tags: at most {MAX_LIST}"
            )));
        }
        a.add_tags.sort();
        a.add_tags.dedup();
        if let Some(reply) = &a.reply {
            if reply.trim().is_empty() {
                a.reply = None;
            } else if reply.chars().count() > MAX_REPLY_CHARS {
                return Err(Error::validation(format!(
                    "actions.reply: at most {MAX_REPLY_CHARS} characters"
                )));
            }
        }
        if a.notify_user_ids.len() > MAX_LIST {
            return Err(Error::validation(format!(
                "actions.notify_user_ids: at most {MAX_LIST}"
            )));
        }
        a.notify_user_ids.sort_unstable();
        a.notify_user_ids.dedup();
        if *a == Actions::default() {
            return Err(Error::validation(
                "actions: a rule needs at least one action",
            ));
        }
        Ok(self)
    }
}

/// When rules run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Created,
    Updated,
}

/// What a rule's conditions look at.
#[derive(Debug, Clone)]
pub struct RuleFacts {
    pub priority: Priority,
    /// The category key and its parent's key.
    pub category: Option<(String, Option<String>)>,
    /// Subject, description and the new entry, joined.
    pub text: String,
    pub tier: Option<String>,
    pub segment: Option<String>,
    pub channel: Option<String>,
}

impl Conditions {
    pub fn hold(&self, f: &RuleFacts) -> bool {
        let any = |list: &[String], v: &Option<String>| {
            list.is_empty() || v.as_ref().is_some_and(|v| list.iter().any(|x| x == v))
        };
        let category_ok = self.categories.is_empty()
            || f.category.as_ref().is_some_and(|(key, parent)| {
                self.categories
                    .iter()
                    .any(|c| c == key || parent.as_deref() == Some(c.as_str()))
            });
        let keywords_ok = self.keywords.is_empty() || {
            let text = crate::tools::fold(&f.text);
            self.keywords
                .iter()
                .any(|k| text.contains(&crate::tools::fold(k)))
        };
        (self.priorities.is_empty() || self.priorities.contains(&f.priority))
            && category_ok
            && keywords_ok
            && any(&self.tiers, &f.tier)
            && any(&self.segments, &f.segment)
            && any(&self.channels, &f.channel)
    }
}

/// Every action of the rules that matched, combined: later rules override single fields,
/// tags, notified users and replies accumulate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub rule_ids: Vec<Id>,
    pub priority: Option<Priority>,
    pub category: Option<String>,
    pub status: Option<TicketStatus>,
    pub assign_agent_id: Option<Id>,
    pub assign_team_id: Option<Id>,
    pub add_tags: Vec<String>,
    pub replies: Vec<String>,
    pub notify_user_ids: Vec<Id>,
    pub notify_supervisors: bool,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.rule_ids.is_empty()
    }
}

/// Runs the enabled rules for `trigger` in order against `facts`, each seeing the fields set by
/// the rules before it. `parent_of` gives a category's parent key (for a category a rule sets).
pub fn plan(
    rules: &[AutomationRule],
    trigger: Trigger,
    mut facts: RuleFacts,
    parent_of: impl Fn(&str) -> Option<String>,
) -> Plan {
    let mut ordered: Vec<&AutomationRule> = rules.iter().collect();
    ordered.sort_by_key(|r| (r.position, r.id));
    let mut out = Plan::default();
    for rule in ordered {
        let runs = rule.enabled
            && match trigger {
                Trigger::Created => rule.on_create,
                Trigger::Updated => rule.on_update,
            };
        if !runs || !rule.conditions.hold(&facts) {
            continue;
        }
        let a = &rule.actions;
        out.rule_ids.push(rule.id);
        if let Some(p) = a.set_priority {
            out.priority = Some(p);
            facts.priority = p;
        }
        if let Some(c) = &a.set_category {
            out.category = Some(c.clone());
            facts.category = Some((c.clone(), parent_of(c)));
        }
        if a.set_status.is_some() {
            out.status = a.set_status;
        }
        if a.assign_agent_id.is_some() {
            out.assign_agent_id = a.assign_agent_id;
        }
        if a.assign_team_id.is_some() {
            out.assign_team_id = a.assign_team_id;
        }
        out.add_tags.extend(a.add_tags.iter().cloned());
        out.replies.extend(a.reply.iter().cloned());
        out.notify_user_ids
            .extend(a.notify_user_ids.iter().copied());
        out.notify_supervisors |= a.notify_supervisors;
    }
    out.add_tags.sort();
    out.add_tags.dedup();
    out.notify_user_ids.sort_unstable();
    out.notify_user_ids.dedup();
    out
}

/// The variables a reply template may use besides the scripts' (`{customer.name}`, `{shop.name}`).
pub const TICKET_VARIABLES: &[(&str, &str)] =
    &[("ticket.number", "工单号"), ("ticket.subject", "工单标题")];

/// Fills a reply template: the ticket's own variables here, the rest through the scripts'
/// renderer ([`crate::scripts::render`]), which reports variables left without a value.
pub fn render_reply(
    template: &str,
    ticket_number: &str,
    ticket_subject: &str,
    ctx: &crate::scripts::RenderContext,
) -> crate::scripts::Rendered {
    // Values are inserted in one pass so a subject containing `{ticket.number}` stays literal.
    let mut text = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let hit = TICKET_VARIABLES
            .iter()
            .find(|(name, _)| after.starts_with(name) && after[name.len()..].starts_with('}'));
        match hit {
            Some((name, _)) => {
                text.push_str(&rest[..open]);
                // Braces in the values must not form new variables for the second pass.
                let value = if *name == "ticket.number" {
                    ticket_number
                } else {
                    ticket_subject
                };
                text.push_str(&value.replace(['{', '}'], ""));
                rest = &after[name.len() + 1..];
            }
            None => {
                text.push_str(&rest[..open + 1]);
                rest = after;
            }
        }
    }
    text.push_str(rest);
    crate::scripts::render(&text, ctx)
}

#[async_trait]
pub trait AutomationStore: Send + Sync {
    /// Ordered by position, then id.
    async fn automation_rules(&self, shop_id: Id) -> Result<Vec<AutomationRule>>;
    async fn automation_rule(&self, shop_id: Id, id: Id) -> Result<Option<AutomationRule>>;
    /// Input validated by the caller; the store checks agents, teams and users belong to the shop.
    async fn create_automation_rule(
        &self,
        shop_id: Id,
        input: &AutomationRuleInput,
    ) -> Result<AutomationRule>;
    async fn update_automation_rule(
        &self,
        shop_id: Id,
        id: Id,
        input: &AutomationRuleInput,
    ) -> Result<AutomationRule>;
    async fn delete_automation_rule(&self, shop_id: Id, id: Id) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: Id, position: i64, conditions: Conditions, actions: Actions) -> AutomationRule {
        AutomationRule {
            id,
            name: format!("r{id}"),
            position,
            enabled: true,
            on_create: true,
            on_update: false,
            conditions,
            actions,
            created_at: Millis(0),
            updated_at: Millis(0),
        }
    }

    fn facts(text: &str) -> RuleFacts {
        RuleFacts {
            priority: Priority::Normal,
            category: Some(("damaged_item".into(), Some("error".into()))),
            text: text.into(),
            tier: Some("key".into()),
            segment: None,
            channel: Some("widget".into()),
        }
    }

    #[test]
    fn rules_see_what_earlier_rules_set() {
        let rules = vec![
            rule(
                2,
                1,
                Conditions {
                    priorities: vec![Priority::Urgent],
                    ..Default::default()
                },
                Actions {
                    add_tags: vec!["加急".into()],
                    ..Default::default()
                },
            ),
            rule(
                1,
                0,
                Conditions {
                    categories: vec!["error".into()],
                    keywords: vec!["破损".into()],
                    tiers: vec!["key".into()],
                    ..Default::default()
                },
                Actions {
                    set_priority: Some(Priority::Urgent),
                    notify_supervisors: true,
                    ..Default::default()
                },
            ),
            rule(
                3,
                2,
                Conditions {
                    channels: vec!["api".into()],
                    ..Default::default()
                },
                Actions {
                    add_tags: vec!["api".into()],
                    ..Default::default()
                },
            ),
        ];
        let p = plan(&rules, Trigger::Created, facts("箱子 破损 了"), |_| {
            None
        });
        assert_eq!(p.rule_ids, vec![1, 2]);
        assert_eq!(p.priority, Some(Priority::Urgent));
        assert_eq!(p.add_tags, vec!["加急".to_string()]);
        assert!(p.notify_supervisors);
        assert!(plan(&rules, Trigger::Created, facts("好评"), |_| None).is_empty());
        assert!(plan(&rules, Trigger::Updated, facts("破损"), |_| None).is_empty());
    }

    #[test]
    fn inputs_are_checked() {
        let input = |json: &str| {
            serde_json::from_str::<AutomationRuleInput>(json)
                .unwrap()
                .validated()
        };
        assert!(
            input(r#"{"name":"x"}"#)
                .unwrap_err()
                .message
                .starts_with("actions")
        );
        assert!(
            input(r#"{"name":"x","actions":{"set_status":"closed"}}"#)
                .unwrap_err()
                .message
                .starts_with("actions.set_status")
        );
        assert!(
            input(r#"{"name":"x","on_create":false,"actions":{"add_tags":["a"]}}"#)
                .unwrap_err()
                .message
                .starts_with("on_create")
        );
        assert!(
            input(r#"{"name":"x","conditions":{"tiers":["gold"]},"actions":{"add_tags":["a"]}}"#)
                .unwrap_err()
                .message
                .starts_with("conditions.tiers")
        );
        assert!(input(r#"{"name":"x","actions":{"add_tags":["a"]}}"#).is_ok());
    }

    #[test]
    fn replies_fill_ticket_variables() {
        let ctx = crate::scripts::RenderContext {
            customer_name: Some("王女士".into()),
            ..Default::default()
        };
        let r = render_reply(
            "{customer.name}您好，工单 {ticket.number}（{ticket.subject}）已受理 {order.no}",
            "T-42",
            "破损{x}",
            &ctx,
        );
        assert_eq!(r.text, "王女士您好，工单 T-42（破损x）已受理 {order.no}");
        assert_eq!(r.missing, vec!["order.no".to_string()]);
    }
}
