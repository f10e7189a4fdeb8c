//! SLA escalation: the periodic scan that fires warnings and breaches.
//!
//! **Exactly once.** The scan may run on several nodes at the same moment. It reads candidates
//! from the `due_at` / `warn_at` indexes, then claims each with one conditional UPDATE
//! (`… SET escalated_at = now WHERE id = ? AND escalated_at IS NULL`); only the caller whose
//! UPDATE changed a row acts. A claim is committed before its actions run, so a crash between the
//! two loses an escalation rather than doubling it. A breach's ticket change is made by the
//! system actor through the ticket hook, like any change.

use crate::notify::NotificationService;
use crate::ticket_hooks::TicketHooks;
use kefu_core::Result;
use kefu_core::model::Id;
use kefu_core::sla_policies::*;
use kefu_core::store::Store;
use kefu_core::tickets::{Actor, Priority, TicketPatch, TicketStatus};
use kefu_core::time::Clock;
use std::sync::Arc;
use std::time::Duration;

/// How often the escalation task looks for clocks past their warning or due time.
pub const SCAN_EVERY: Duration = Duration::from_secs(5);
/// Clocks handled per scan query (the rest next round, at once).
const SCAN_BATCH: i64 = 200;

/// What one escalation scan did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanReport {
    pub warnings: usize,
    pub breaches: usize,
}

/// The escalation scan and what it does to tickets.
pub struct EscalationService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hooks: Arc<TicketHooks>,
    notify: Arc<NotificationService>,
}

impl EscalationService {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        hooks: Arc<TicketHooks>,
        notify: Arc<NotificationService>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            clock,
            hooks,
            notify,
        })
    }

    /// One pass of the escalation task: every clock past its warning or due time is claimed and,
    /// if this caller won the claim, acted on.
    pub async fn sla_scan(&self) -> Result<ScanReport> {
        let now = self.clock.now();
        let mut report = ScanReport::default();
        for due in self.store.due_sla_clocks(now, SCAN_BATCH).await? {
            let claimed = if due.breach {
                self.store.claim_sla_breach(due.clock_id, now).await?
            } else {
                self.store.claim_sla_warning(due.clock_id, now).await?
            };
            if !claimed {
                continue;
            }
            let acted = if due.breach {
                report.breaches += 1;
                self.escalate(&due).await
            } else {
                report.warnings += 1;
                self.warn(&due).await
            };
            if let Err(e) = acted {
                tracing::warn!(%e, clock_id = due.clock_id, ticket_id = due.ticket_id, "SLA escalation failed");
            }
        }
        Ok(report)
    }

    async fn warn(&self, due: &DueClock) -> Result<()> {
        let Some(t) = self.store.ticket(due.shop_id, due.ticket_id).await? else {
            return Ok(());
        };
        let mut users: Vec<Id> = t.assignee_id.into_iter().collect();
        if users.is_empty() {
            users = self.notify.supervisors(t.shop_id).await?;
        }
        let text = format!(
            "工单 {} 「{}」的{}即将超时",
            t.display_number,
            t.subject,
            metric_label(due.metric)
        );
        self.notify
            .notify(
                t.shop_id,
                users
                    .into_iter()
                    .map(|user_id| NewNotification {
                        user_id,
                        kind: NotificationKind::SlaWarning,
                        ticket_id: Some(t.id),
                        text: text.clone(),
                    })
                    .collect(),
            )
            .await
    }

    /// A breach: the policy's escalation (reassign, raise priority) as one ticket change by the
    /// system actor (audited like any change, and passed through the ticket hook), then the
    /// notifications (the assignee, plus whom the policy names).
    async fn escalate(&self, due: &DueClock) -> Result<()> {
        let Some(t) = self.store.ticket(due.shop_id, due.ticket_id).await? else {
            return Ok(());
        };
        let policy = self.store.sla_policy(t.shop_id, due.policy_id).await?;
        let escalation = policy.map(|p| p.escalation).unwrap_or_default();
        let mut patch = TicketPatch::default();
        if escalation.raise_priority && t.priority != Priority::Urgent {
            patch.priority = Some(t.priority.raised());
        }
        if let Some(agent) = escalation.reassign_agent_id {
            patch.assignee_id = Some(Some(agent));
        }
        if let Some(team) = escalation.reassign_team_id {
            patch.team_id = Some(Some(team));
        }
        let mut ticket = t.clone();
        if !patch.is_empty() && !matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed) {
            match self
                .hooks
                .update_as(t.shop_id, t.id, &patch, Actor::SYSTEM)
                .await
            {
                Ok(updated) => ticket = updated,
                Err(e) => {
                    tracing::warn!(%e, ticket_id = t.id, "SLA escalation could not change the ticket")
                }
            }
        }
        let mut users: Vec<Id> = t.assignee_id.into_iter().collect();
        users.extend(ticket.assignee_id);
        users.extend(escalation.notify_user_ids.iter().copied());
        if escalation.notify_supervisors || users.is_empty() {
            users.extend(self.notify.supervisors(t.shop_id).await?);
        }
        users.sort_unstable();
        users.dedup();
        let text = format!(
            "工单 {} 「{}」的{}已超时",
            ticket.display_number,
            ticket.subject,
            metric_label(due.metric)
        );
        self.notify
            .notify(
                t.shop_id,
                users
                    .into_iter()
                    .map(|user_id| NewNotification {
                        user_id,
                        kind: NotificationKind::SlaBreach,
                        ticket_id: Some(t.id),
                        text: text.clone(),
                    })
                    .collect(),
            )
            .await
    }
}

fn metric_label(m: SlaMetric) -> &'static str {
    match m {
        SlaMetric::FirstResponse => "首次响应",
        SlaMetric::NextResponse => "再次响应",
        SlaMetric::Resolution => "解决时限",
    }
}

/// Starts the escalation task: a scan every [`SCAN_EVERY`] (at once again while a scan found a
/// full batch). Several nodes may run it (see the module doc).
pub fn spawn_escalation(escalation: &Arc<EscalationService>) -> tokio::task::JoinHandle<()> {
    let state = escalation.clone();
    tokio::spawn(async move {
        loop {
            match state.sla_scan().await {
                Ok(r) if r.warnings + r.breaches >= SCAN_BATCH as usize => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(%e, "SLA escalation scan failed"),
            }
            tokio::time::sleep(SCAN_EVERY).await;
        }
    })
}
