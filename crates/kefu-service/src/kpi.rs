//! Agent KPIs (客服绩效): who may see which figures, the shop's attribution settings, and the
//! report and trend assembled from the store's aggregates (`kefu_core::kpi`).
//!
//! Admins and supervisors see every agent, team and the shop; an agent sees their own row (and
//! their own trend) only — never a colleague's figures or the shop's totals. Admins change the
//! attribution settings; everyone may read them (the console shows the rules beside the figures).

use crate::access::{require_admin, visible_conversation};
use kefu_core::kpi::*;
use kefu_core::model::{Id, Role, User};
use kefu_core::store::Store;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use std::sync::Arc;

/// A validated range of whole local days (or instants) in the shop's time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiRange {
    pub from: Millis,
    pub to: Millis,
    pub time_zone: String,
    /// Minutes east of UTC of `time_zone` (one without daylight saving).
    pub utc_offset_min: i32,
}

impl KpiRange {
    /// Checks the bounds: `to` after `from`, at most [`kefu_core::reports::MAX_RANGE_DAYS`] days.
    pub fn new(from: Millis, to: Millis, time_zone: &str) -> Result<Self> {
        if to.0 <= from.0 {
            return Err(Error::invalid("to", "must be after from"));
        }
        let max = kefu_core::reports::MAX_RANGE_DAYS;
        if to.0 - from.0 > max * 86_400_000 {
            return Err(Error::invalid(
                "to",
                format!("must be at most {max} days after from"),
            ));
        }
        Ok(Self {
            from,
            to,
            time_zone: time_zone.to_owned(),
            utc_offset_min: kefu_core::reports::report_utc_offset(time_zone)?,
        })
    }
}

/// The KPI flows.
pub struct KpiService {
    store: Arc<dyn Store>,
}

impl KpiService {
    pub fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self { store })
    }

    pub async fn settings(&self, by: &User) -> Result<KpiSettings> {
        self.store.kpi_settings(by.shop_id).await
    }

    /// Admins only; bad values are refused naming their field and change nothing.
    pub async fn put_settings(&self, by: &User, settings: KpiSettings) -> Result<KpiSettings> {
        require_admin(by, "change the KPI rules")?;
        settings.validate()?;
        self.store.put_kpi_settings(by.shop_id, &settings).await
    }

    /// A conversation's desk events, for whoever may see the conversation.
    pub async fn conversation_events(
        &self,
        by: &User,
        conversation_id: Id,
    ) -> Result<Vec<DeskEvent>> {
        visible_conversation(&*self.store, by, conversation_id).await?;
        self.store
            .conversation_events(by.shop_id, conversation_id)
            .await
    }

    /// An agent's presence changes in a range (at most 10,000): managers for anyone of the shop,
    /// an agent for themselves.
    pub async fn agent_status_events(
        &self,
        by: &User,
        agent_id: Id,
        range: &KpiRange,
    ) -> Result<Vec<DeskEvent>> {
        if !by.role.sees_whole_shop() && agent_id != by.id {
            return Err(Error::forbidden("agents see their own presence only"));
        }
        self.store
            .agent_status_events(by.shop_id, agent_id, range.from, range.to, 10_000)
            .await
    }

    async fn query(
        &self,
        by: &User,
        range: &KpiRange,
        group: KpiGroup,
        agent_id: Option<Id>,
        by_day: bool,
    ) -> Result<(KpiQuery, Vec<KpiBucket>)> {
        let reminders = self.store.reminder_settings(by.shop_id).await?;
        let query = KpiQuery {
            shop_id: by.shop_id,
            from: range.from,
            to: range.to,
            group,
            agent_id,
            day_offset_min: by_day.then_some(range.utc_offset_min),
            settings: self.store.kpi_settings(by.shop_id).await?,
            reminder_outcome_hours: reminders.outcome_hours,
            now: Millis::now(),
        };
        let buckets = self.store.kpi_counts(&query).await?;
        Ok((query, buckets))
    }

    /// The figures of a range grouped by agent, team or shop. An agent gets their own row only
    /// (any other grouping is `forbidden`) and no shop totals.
    pub async fn report(&self, by: &User, range: &KpiRange, group: KpiGroup) -> Result<KpiReport> {
        let manager = by.role.sees_whole_shop();
        if !manager && group != KpiGroup::Agent {
            return Err(Error::forbidden(
                "agents see their own figures only (group=agent)",
            ));
        }
        let only = (!manager).then_some(by.id);
        let (query, buckets) = self.query(by, range, group, only, false).await?;
        let counts = counts_by_key(&buckets);
        let figures = |key: Id| {
            KpiFigures::from_counts(
                &counts.get(&key).copied().unwrap_or_default(),
                group == KpiGroup::Shop,
            )
        };
        let active = |key: Id| {
            counts
                .get(&key)
                .is_some_and(|c| c.served + c.replies + c.sessions + c.reminders > 0)
        };
        let rows = match group {
            KpiGroup::Agent => {
                let agents = self.store.list_agents(by.shop_id).await?;
                agents
                    .into_iter()
                    .map(|a| a.user)
                    .filter(|u| match only {
                        Some(me) => u.id == me,
                        // Every agent, and admins or supervisors who served shoppers.
                        None => u.role == Role::Agent || active(u.id),
                    })
                    .map(|u| KpiRow {
                        id: Some(u.id),
                        figures: figures(u.id),
                        name: u.name,
                        team: u.team.map(|t| t.name),
                    })
                    .collect()
            }
            KpiGroup::Team => {
                let mut rows: Vec<KpiRow> = self
                    .store
                    .list_teams(by.shop_id)
                    .await?
                    .into_iter()
                    .map(|t| KpiRow {
                        id: Some(t.id),
                        figures: figures(t.id),
                        name: t.name,
                        team: None,
                    })
                    .collect();
                // Agents without a team are key 0.
                if active(0) {
                    rows.push(KpiRow {
                        id: None,
                        name: String::new(),
                        team: None,
                        figures: figures(0),
                    });
                }
                rows
            }
            KpiGroup::Shop => {
                let shop = self
                    .store
                    .shop_by_id(by.shop_id)
                    .await?
                    .ok_or_else(|| Error::not_found("shop"))?;
                vec![KpiRow {
                    id: None,
                    name: shop.name,
                    team: None,
                    figures: figures(0),
                }]
            }
        };
        let totals = match (manager, group) {
            (false, _) => None,
            (true, KpiGroup::Shop) => rows.first().map(|r| r.figures.clone()),
            (true, _) => {
                let (_, shop) = self.query(by, range, KpiGroup::Shop, None, false).await?;
                let counts = counts_by_key(&shop);
                Some(KpiFigures::from_counts(
                    &counts.get(&0).copied().unwrap_or_default(),
                    true,
                ))
            }
        };
        Ok(KpiReport {
            from: range.from,
            to: range.to,
            time_zone: range.time_zone.clone(),
            group,
            settings: query.settings,
            reminder_outcome_hours: query.reminder_outcome_hours,
            rows,
            totals,
        })
    }

    /// Figures by local day of one agent (`agent_id`) or the whole shop (`None`). An agent sees
    /// their own trend only.
    pub async fn trend(
        &self,
        by: &User,
        range: &KpiRange,
        agent_id: Option<Id>,
    ) -> Result<KpiTrend> {
        let agent_id = if by.role.sees_whole_shop() {
            agent_id
        } else {
            match agent_id {
                None => Some(by.id),
                Some(id) if id == by.id => Some(id),
                Some(_) => {
                    return Err(Error::forbidden("agents see their own figures only"));
                }
            }
        };
        if let Some(id) = agent_id {
            self.store
                .user_by_id(by.shop_id, id)
                .await?
                .ok_or_else(|| Error::not_found("agent"))?;
        }
        let group = if agent_id.is_some() {
            KpiGroup::Agent
        } else {
            KpiGroup::Shop
        };
        let (_, buckets) = self.query(by, range, group, agent_id, true).await?;
        Ok(KpiTrend {
            from: range.from,
            to: range.to,
            time_zone: range.time_zone.clone(),
            agent_id,
            days: trend_days(
                &buckets,
                range.from,
                range.to,
                range.utc_offset_min,
                agent_id.is_none(),
            ),
        })
    }
}
