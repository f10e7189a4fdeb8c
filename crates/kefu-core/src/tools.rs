//! The agent's daily tools: conversation tags, snooze, @mentions in internal notes, and the shop's
//! auto-reply rules (business hours with an after-hours reply, keyword triggers).
//!
//! Pure rules live here — tag and snooze validation, the business-hours clock with its small
//! hand-written time-zone table, keyword matching, rule validation — together with the storage
//! port [`ToolsStore`]. No HTTP, no SQL.

use crate::model::{Appended, Conversation, CustomerRef, Id, User, string_enum};
use crate::time::Millis;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// ---------------------------------------------------------------------------------------------
// Tags

/// The longest tag name, in characters.
pub const MAX_TAG_CHARS: usize = 32;
/// The most tags one conversation carries.
pub const MAX_TAGS_PER_CONVERSATION: usize = 20;
/// The most distinct tag names a shop keeps (the vocabulary grows on first use).
pub const MAX_TAGS_PER_SHOP: i64 = 1000;

/// A tag name as stored: trimmed, inner whitespace collapsed, 1-32 characters, no control
/// characters. Case is kept (Chinese has none; `VIP` and `vip` are the agent's choice).
pub fn normalize_tag(raw: &str) -> Result<String> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(Error::validation("tag must not be empty"));
    }
    if name.chars().count() > MAX_TAG_CHARS {
        return Err(Error::validation(format!(
            "tag must be at most {MAX_TAG_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::validation("tag must not contain control characters"));
    }
    Ok(name)
}

/// A tag of the shop's vocabulary with how many conversations carry it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct TagCount {
    pub name: String,
    pub conversations: i64,
}

// ---------------------------------------------------------------------------------------------
// Snooze

/// The furthest a conversation may be snoozed.
pub const MAX_SNOOZE_MS: i64 = 90 * 24 * 3600 * 1000;

/// A wake-up time must lie in the future, at most 90 days ahead.
pub fn validate_snooze(until: Millis, now: Millis) -> Result<()> {
    if until <= now {
        return Err(Error::validation("until must be in the future"));
    }
    if until.0 - now.0 > MAX_SNOOZE_MS {
        return Err(Error::validation("until must be at most 90 days ahead"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Mentions

/// The most agents one note may mention.
pub const MAX_MENTIONS: usize = 20;

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct AgentRef {
    pub id: Id,
    pub name: String,
}

/// An agent was @mentioned in an internal note.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Mention {
    pub id: Id,
    pub conversation_id: Id,
    pub message_id: Id,
    /// The mentioned agent.
    pub agent_id: Id,
    /// Who wrote the note.
    pub by: AgentRef,
    /// The note's first characters.
    pub excerpt: String,
    /// The shopper of the conversation, for the list.
    pub customer: CustomerRef,
    pub created_at: Millis,
    pub read_at: Option<Millis>,
}

/// The excerpt shown in a mention notification: the note's first 120 characters on one line.
pub fn excerpt(body: &str) -> String {
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = flat.chars().take(120).collect();
    if flat.chars().count() > 120 {
        out.push('…');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Time zones: a small table written by hand (no tz database, no network). Zones without daylight
// saving are fixed offsets; the European and US zones follow today's EU and US rules.

#[derive(Clone, Copy)]
enum Dst {
    None,
    /// Last Sunday of March 01:00 UTC → last Sunday of October 01:00 UTC.
    Eu,
    /// Second Sunday of March 02:00 local → first Sunday of November 02:00 local.
    Us,
}

/// `(name, standard offset in minutes east of UTC, daylight rule)`.
const ZONES: &[(&str, i32, Dst)] = &[
    ("Asia/Shanghai", 480, Dst::None),
    ("Asia/Hong_Kong", 480, Dst::None),
    ("Asia/Taipei", 480, Dst::None),
    ("Asia/Singapore", 480, Dst::None),
    ("Asia/Kuala_Lumpur", 480, Dst::None),
    ("Asia/Macau", 480, Dst::None),
    ("Asia/Manila", 480, Dst::None),
    ("Asia/Tokyo", 540, Dst::None),
    ("Asia/Seoul", 540, Dst::None),
    ("Asia/Bangkok", 420, Dst::None),
    ("Asia/Jakarta", 420, Dst::None),
    ("Asia/Ho_Chi_Minh", 420, Dst::None),
    ("Asia/Kolkata", 330, Dst::None),
    ("Asia/Dubai", 240, Dst::None),
    ("Europe/Moscow", 180, Dst::None),
    ("UTC", 0, Dst::None),
    ("Europe/London", 0, Dst::Eu),
    ("Europe/Berlin", 60, Dst::Eu),
    ("Europe/Paris", 60, Dst::Eu),
    ("America/New_York", -300, Dst::Us),
    ("America/Chicago", -360, Dst::Us),
    ("America/Denver", -420, Dst::Us),
    ("America/Los_Angeles", -480, Dst::Us),
];

/// The offset (minutes east of UTC) of a zone without daylight saving; `None` for an unknown zone
/// or one with DST. SLA calendars (business_hours.rs) count in whole local days and take only these.
pub fn fixed_utc_offset(zone: &str) -> Option<i32> {
    ZONES
        .iter()
        .find(|z| z.0 == zone)
        .and_then(|&(_, std, dst)| matches!(dst, Dst::None).then_some(std))
}

/// The time zones business hours may use.
pub fn time_zones() -> Vec<&'static str> {
    ZONES.iter().map(|z| z.0).collect()
}

const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian; Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of a day number (days since the epoch).
fn year_of(days: i64) -> i64 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

/// Monday = 0 … Sunday = 6 of a day number (1970-01-01 was a Thursday).
fn weekday(days: i64) -> i64 {
    (days + 3).rem_euclid(7)
}

/// The day number of the `n`th Sunday (1-based) of a month, or its last Sunday when `n == 0`.
fn sunday(year: i64, month: i64, n: i64) -> i64 {
    if n == 0 {
        let next = if month == 12 {
            days_from_civil(year + 1, 1, 1)
        } else {
            days_from_civil(year, month + 1, 1)
        };
        let last = next - 1;
        last - (weekday(last) - 6).rem_euclid(7)
    } else {
        let first = days_from_civil(year, month, 1);
        first + (6 - weekday(first)).rem_euclid(7) + 7 * (n - 1)
    }
}

/// The offset from UTC (minutes) of `zone` at the instant `at`; `None` for an unknown zone.
pub fn utc_offset_minutes(zone: &str, at: Millis) -> Option<i32> {
    let &(_, std, dst) = ZONES.iter().find(|z| z.0 == zone)?;
    let year = year_of(at.0.div_euclid(DAY_MS));
    let summer = match dst {
        Dst::None => false,
        Dst::Eu => {
            let start = sunday(year, 3, 0) * DAY_MS + 3_600_000;
            let end = sunday(year, 10, 0) * DAY_MS + 3_600_000;
            (start..end).contains(&at.0)
        }
        Dst::Us => {
            let std_ms = i64::from(std) * 60_000;
            let start = sunday(year, 3, 2) * DAY_MS + 2 * 3_600_000 - std_ms;
            let end = sunday(year, 11, 1) * DAY_MS + 2 * 3_600_000 - (std_ms + 3_600_000);
            (start..end).contains(&at.0)
        }
    };
    Some(std + if summer { 60 } else { 0 })
}

// ---------------------------------------------------------------------------------------------
// Business hours and auto-reply rules

/// Opening hours within one day, `HH:MM` local time; `end` may be `24:00`. Overnight hours are two
/// ranges on consecutive days (`22:00-24:00` and `00:00-02:00`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct TimeRange {
    pub start: String,
    pub end: String,
}

/// Minutes after midnight of `HH:MM` (`24:00` allowed).
fn parse_hhmm(s: &str) -> Result<i64> {
    let bad = || Error::validation(format!("'{s}' is not a time of day (HH:MM)"));
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: i64 = h.parse().map_err(|_| bad())?;
    let m: i64 = m.parse().map_err(|_| bad())?;
    if !(0..=24).contains(&h) || !(0..60).contains(&m) || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// When the shop's service is staffed, in its own time zone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct BusinessHours {
    /// Off: the shop counts as always open (no after-hours reply).
    pub enabled: bool,
    /// One of [`time_zones`], e.g. `Asia/Shanghai`.
    pub time_zone: String,
    /// Seven days, Monday first; an empty day is closed all day.
    pub days: Vec<Vec<TimeRange>>,
}

impl Default for BusinessHours {
    fn default() -> Self {
        let workday = vec![TimeRange {
            start: "09:00".into(),
            end: "18:00".into(),
        }];
        Self {
            enabled: false,
            time_zone: "Asia/Shanghai".into(),
            days: (0..7).map(|_| workday.clone()).collect(),
        }
    }
}

impl BusinessHours {
    /// Open intervals in milliseconds of the local week (Monday 00:00 = 0), sorted and merged.
    fn week_intervals(&self) -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64)> = Vec::new();
        for (day, ranges) in self.days.iter().enumerate().take(7) {
            for r in ranges {
                if let (Ok(s), Ok(e)) = (parse_hhmm(&r.start), parse_hhmm(&r.end))
                    && s < e
                {
                    let base = day as i64 * DAY_MS;
                    out.push((base + s * 60_000, base + e * 60_000));
                }
            }
        }
        out.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(out.len());
        for (s, e) in out {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }

    /// `now` as milliseconds into the local week.
    fn local_week_ms(&self, now: Millis) -> i64 {
        let offset = utc_offset_minutes(&self.time_zone, now).unwrap_or(0);
        let local = now.0 + i64::from(offset) * 60_000;
        let days = local.div_euclid(DAY_MS);
        weekday(days) * DAY_MS + local.rem_euclid(DAY_MS)
    }

    /// Whether the shop is open at `now` (always, when business hours are off).
    pub fn is_open(&self, now: Millis) -> bool {
        self.closed_since(now).is_none()
    }

    /// `None` while open (or with business hours off); otherwise when the current closed period
    /// began — the last closing time before `now` (the epoch if the shop is never open). A closed
    /// period that spans a daylight-saving change is measured with today's offset.
    pub fn closed_since(&self, now: Millis) -> Option<Millis> {
        if !self.enabled {
            return None;
        }
        let intervals = self.week_intervals();
        if intervals.is_empty() {
            return Some(Millis(0));
        }
        let w = self.local_week_ms(now);
        // Open across the week's wrap (Sunday 24:00 → Monday 00:00) counts as one stretch, which
        // the containment test below handles piecewise.
        if intervals.iter().any(|&(s, e)| s <= w && w < e) {
            return None;
        }
        let since_close = intervals
            .iter()
            .filter(|&&(_, e)| e <= w)
            .map(|&(_, e)| w - e)
            .min()
            // Closed since last week's final closing.
            .unwrap_or_else(|| w + WEEK_MS - intervals[intervals.len() - 1].1);
        Some(Millis(now.0 - since_close))
    }

    pub fn validate(&self) -> Result<()> {
        if utc_offset_minutes(&self.time_zone, Millis(0)).is_none() {
            return Err(Error::validation(format!(
                "time_zone: unknown zone '{}' (one of {})",
                self.time_zone,
                time_zones().join(", ")
            )));
        }
        if self.days.len() != 7 {
            return Err(Error::validation("days: give seven days, Monday first"));
        }
        for ranges in &self.days {
            if ranges.len() > 4 {
                return Err(Error::validation("days: at most 4 ranges a day"));
            }
            for r in ranges {
                if parse_hhmm(&r.start)? >= parse_hhmm(&r.end)? {
                    return Err(Error::validation(format!(
                        "days: {}-{} ends before it starts",
                        r.start, r.end
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The reply sent when a shopper writes outside business hours.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AfterHoursReply {
    pub enabled: bool,
    pub text: String,
}

impl Default for AfterHoursReply {
    fn default() -> Self {
        Self {
            enabled: false,
            text: "您好，现在是非工作时间，客服上线后会第一时间回复您，感谢您的耐心等待。".into(),
        }
    }
}

string_enum!(
    /// How a keyword is compared with a shopper's message (both case- and width-folded).
    MatchMode { Contains => "contains", Exact => "exact" }
);

/// A keyword trigger: a shopper message that matches any keyword gets the reply (a text, or a
/// script of the library rendered for the conversation), at most once per cool-down.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct KeywordRule {
    /// Stable id (assigned when empty); the cool-down is kept per rule and conversation.
    #[serde(default)]
    pub id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub keywords: Vec<String>,
    #[serde(default = "contains", rename = "match")]
    pub match_mode: MatchMode,
    /// The reply text; may be empty when `script_id` is set.
    #[serde(default)]
    pub reply: String,
    /// Reply with this script of the shop's library instead of `reply`.
    #[serde(default)]
    pub script_id: Option<Id>,
    /// Not sent again in the same conversation within this many minutes.
    #[serde(default = "default_cooldown")]
    pub cooldown_minutes: i64,
}

fn yes() -> bool {
    true
}
fn contains() -> MatchMode {
    MatchMode::Contains
}
fn default_cooldown() -> i64 {
    30
}

/// A shop's auto-reply rules; the greeting stays in the shop settings (see the spine).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Default)]
pub struct AutoReplyRules {
    #[serde(default)]
    pub business_hours: BusinessHours,
    #[serde(default)]
    pub after_hours: AfterHoursReply,
    #[serde(default)]
    pub keywords: Vec<KeywordRule>,
}

pub const MAX_KEYWORD_RULES: usize = 100;
pub const MAX_KEYWORDS_PER_RULE: usize = 20;
pub const MAX_KEYWORD_CHARS: usize = 50;
pub const MAX_REPLY_CHARS: usize = 1000;

/// Lower case, full-width ASCII and spaces folded to half width: `ＶＩＰ` matches `vip`.
pub fn fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

impl AutoReplyRules {
    /// Whether any rule could fire (lets the message path skip everything when none can).
    pub fn active(&self) -> bool {
        (self.business_hours.enabled && self.after_hours.enabled)
            || self.keywords.iter().any(|k| k.enabled)
    }

    /// The first enabled keyword rule matching a shopper's message.
    pub fn keyword_match(&self, message: &str) -> Option<&KeywordRule> {
        let text = fold(message.trim());
        self.keywords.iter().filter(|r| r.enabled).find(|r| {
            r.keywords.iter().any(|k| {
                let k = fold(k.trim());
                !k.is_empty()
                    && match r.match_mode {
                        MatchMode::Contains => text.contains(&k),
                        MatchMode::Exact => text == k,
                    }
            })
        })
    }

    /// Checks limits and shapes, trims keywords and gives new keyword rules their ids.
    pub fn validate(&mut self) -> Result<()> {
        self.business_hours.validate()?;
        let text = self.after_hours.text.trim();
        if text.chars().count() > MAX_REPLY_CHARS {
            return Err(Error::validation(format!(
                "after_hours.text must be at most {MAX_REPLY_CHARS} characters"
            )));
        }
        if self.after_hours.enabled && text.is_empty() {
            return Err(Error::validation("after_hours.text must not be empty"));
        }
        if self.keywords.len() > MAX_KEYWORD_RULES {
            return Err(Error::validation(format!(
                "at most {MAX_KEYWORD_RULES} keyword rules"
            )));
        }
        let mut ids = std::collections::HashSet::new();
        for (i, rule) in self.keywords.iter_mut().enumerate() {
            let at = |m: &str| Error::validation(format!("keywords[{i}]: {m}"));
            rule.keywords = rule
                .keywords
                .iter()
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty())
                .collect();
            if rule.keywords.is_empty() || rule.keywords.len() > MAX_KEYWORDS_PER_RULE {
                return Err(at(&format!("give 1-{MAX_KEYWORDS_PER_RULE} keywords")));
            }
            if rule
                .keywords
                .iter()
                .any(|k| k.chars().count() > MAX_KEYWORD_CHARS)
            {
                return Err(at(&format!(
                    "a keyword is at most {MAX_KEYWORD_CHARS} characters"
                )));
            }
            rule.reply = rule.reply.trim().to_owned();
            if rule.reply.chars().count() > MAX_REPLY_CHARS {
                return Err(at(&format!(
                    "reply must be at most {MAX_REPLY_CHARS} characters"
                )));
            }
            if rule.reply.is_empty() && rule.script_id.is_none() {
                return Err(at("give a reply text or a script"));
            }
            if !(1..=10_080).contains(&rule.cooldown_minutes) {
                return Err(at("cooldown_minutes must be 1-10080"));
            }
            if rule.id.is_empty() {
                rule.id = crate::token::generate("kw")[..10].to_owned();
            }
            if rule.id.len() > 40 || !rule.id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(at("id must be 1-40 letters or digits"));
            }
            if !ids.insert(rule.id.clone()) {
                return Err(at("duplicate id"));
            }
        }
        Ok(())
    }
}

/// The log key of the after-hours reply (see [`ToolsStore::send_auto_reply`]).
pub const AFTER_HOURS_KEY: &str = "after_hours";

/// The log key of a keyword rule.
pub fn keyword_key(rule: &KeywordRule) -> String {
    format!("keyword:{}", rule.id)
}

// ---------------------------------------------------------------------------------------------
// Storage

/// Storage of the daily tools. Every method is scoped by shop: another shop's ids are not found.
#[async_trait]
pub trait ToolsStore: Send + Sync {
    /// Adds a tag (creating the name in the shop's vocabulary on first use); a tag already there
    /// is kept once. `validation_failed` beyond [`MAX_TAGS_PER_CONVERSATION`].
    async fn add_conversation_tag(
        &self,
        shop_id: Id,
        conversation_id: Id,
        name: &str,
    ) -> Result<Conversation>;
    /// Removes a tag; removing one that is not there is not an error.
    async fn remove_conversation_tag(
        &self,
        shop_id: Id,
        conversation_id: Id,
        name: &str,
    ) -> Result<Conversation>;
    /// The shop's tag vocabulary with usage counts, most used first.
    async fn conversation_tags(&self, shop_id: Id) -> Result<Vec<TagCount>>;
    /// The id of a tag name of the shop (for list filters).
    async fn conversation_tag_id(&self, shop_id: Id, name: &str) -> Result<Option<Id>>;

    /// Puts a conversation to sleep: `pending` until `until`. Not for resolved conversations.
    async fn snooze(&self, shop_id: Id, conversation_id: Id, until: Millis)
    -> Result<Conversation>;
    /// Wakes a snoozed conversation (back to `open`, queued again when unassigned). With `due`,
    /// only if its time has come by then. `None` when it was not (or no longer) snoozed, so of
    /// several callers racing exactly one wakes it.
    async fn wake_snoozed(
        &self,
        shop_id: Id,
        conversation_id: Id,
        due: Option<Millis>,
    ) -> Result<Option<Conversation>>;
    /// Snoozed conversations due by `now` across all shops: `(shop_id, conversation_id)`.
    async fn due_snoozes(&self, now: Millis, limit: i64) -> Result<Vec<(Id, Id)>>;
    /// The earliest wake-up time of any snoozed conversation.
    async fn next_snooze(&self) -> Result<Option<Millis>>;

    /// Records that a note mentions these agents (validated to be of the shop by the caller and
    /// again here). Idempotent per (note, agent): returns only the mentions created now.
    async fn add_mentions(
        &self,
        shop_id: Id,
        conversation_id: Id,
        message_id: Id,
        by: &User,
        agent_ids: &[Id],
        excerpt: &str,
    ) -> Result<Vec<Mention>>;
    /// An agent's mentions, newest first.
    async fn mentions(
        &self,
        shop_id: Id,
        agent_id: Id,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<Mention>>;
    /// Marks an agent's mentions read: one (`mention_id`), those of a conversation, or all.
    /// Returns how many changed.
    async fn mark_mentions_read(
        &self,
        shop_id: Id,
        agent_id: Id,
        mention_id: Option<Id>,
        conversation_id: Option<Id>,
    ) -> Result<i64>;
    /// Whether the agent was mentioned in a note of the conversation.
    async fn is_mentioned(&self, shop_id: Id, agent_id: Id, conversation_id: Id) -> Result<bool>;

    /// A shopper's conversations, newest first.
    async fn customer_conversations(
        &self,
        shop_id: Id,
        customer_id: Id,
        limit: i64,
    ) -> Result<Vec<Conversation>>;

    /// The shop's auto-reply rules (the defaults, all off, when never saved).
    async fn auto_reply_rules(&self, shop_id: Id) -> Result<AutoReplyRules>;
    async fn put_auto_reply_rules(&self, shop_id: Id, rules: &AutoReplyRules) -> Result<()>;
    /// Sends an automatic `bot` reply unless one under `rule_key` was sent in this conversation
    /// at or after `not_since`: the claim and the message are one write, so concurrent shopper
    /// messages cannot both send it. `None` when it was not sent.
    async fn send_auto_reply(
        &self,
        shop_id: Id,
        conversation_id: Id,
        rule_key: &str,
        not_since: Millis,
        body: &str,
    ) -> Result<Option<Appended>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2026-11-23 (a Monday) at `h:m` UTC.
    fn monday_utc(h: i64, m: i64) -> Millis {
        Millis(days_from_civil(2026, 11, 23) * DAY_MS + (h * 60 + m) * 60_000)
    }

    fn hours(zone: &str) -> BusinessHours {
        BusinessHours {
            enabled: true,
            time_zone: zone.into(),
            ..BusinessHours::default()
        }
    }

    #[test]
    fn calendar_maths() {
        assert_eq!(weekday(days_from_civil(2026, 11, 23)), 0, "a Monday");
        assert_eq!(weekday(0), 3, "1970-01-01 was a Thursday");
        assert_eq!(year_of(days_from_civil(2024, 2, 29)), 2024);
        assert_eq!(year_of(days_from_civil(2023, 12, 31)), 2023);
        assert_eq!(sunday(2026, 3, 0), days_from_civil(2026, 3, 29));
        assert_eq!(sunday(2026, 10, 0), days_from_civil(2026, 10, 25));
        assert_eq!(sunday(2026, 3, 2), days_from_civil(2026, 3, 8));
        assert_eq!(sunday(2026, 11, 1), days_from_civil(2026, 11, 1));
    }

    #[test]
    fn offsets_follow_daylight_saving() {
        let at = |y: i64, mo: i64, d: i64, h: i64| {
            Millis(days_from_civil(y, mo, d) * DAY_MS + h * 3_600_000)
        };
        assert_eq!(
            utc_offset_minutes("Asia/Shanghai", at(2026, 7, 1, 0)),
            Some(480)
        );
        assert_eq!(
            utc_offset_minutes("Europe/Berlin", at(2026, 1, 10, 0)),
            Some(60)
        );
        assert_eq!(
            utc_offset_minutes("Europe/Berlin", at(2026, 7, 1, 0)),
            Some(120)
        );
        assert_eq!(
            utc_offset_minutes("Europe/London", at(2026, 3, 29, 0)),
            Some(0)
        );
        assert_eq!(
            utc_offset_minutes("Europe/London", at(2026, 3, 29, 2)),
            Some(60)
        );
        assert_eq!(
            utc_offset_minutes("America/New_York", at(2026, 3, 8, 6)),
            Some(-300),
            "01:00 EST"
        );
        assert_eq!(
            utc_offset_minutes("America/New_York", at(2026, 3, 8, 8)),
            Some(-240),
            "04:00 EDT"
        );
        assert_eq!(
            utc_offset_minutes("America/New_York", at(2026, 11, 23, 12)),
            Some(-300)
        );
        assert_eq!(utc_offset_minutes("Mars/Olympus", Millis(0)), None);
    }

    #[test]
    fn shanghai_office_hours() {
        let h = hours("Asia/Shanghai");
        // 09:00-18:00 Shanghai = 01:00-10:00 UTC.
        assert!(h.is_open(monday_utc(2, 0)));
        assert!(!h.is_open(monday_utc(0, 59)));
        assert!(!h.is_open(monday_utc(10, 0)));
        // Monday 11:00 UTC = 19:00 local: closed since 18:00 local = 10:00 UTC.
        assert_eq!(h.closed_since(monday_utc(11, 0)), Some(monday_utc(10, 0)));
        // Monday 00:30 UTC = 08:30 local: closed since Sunday 18:00 local.
        assert_eq!(
            h.closed_since(monday_utc(0, 30)),
            Some(Millis(monday_utc(10, 0).0 - DAY_MS))
        );
        let off = BusinessHours {
            enabled: false,
            ..h.clone()
        };
        assert_eq!(
            off.closed_since(monday_utc(23, 0)),
            None,
            "off = always open"
        );
        let never = BusinessHours {
            days: vec![vec![]; 7],
            ..h
        };
        assert_eq!(never.closed_since(monday_utc(3, 0)), Some(Millis(0)));
    }

    #[test]
    fn closed_weekend_reaches_back_to_friday() {
        let mut h = hours("UTC");
        h.days[5].clear();
        h.days[6].clear();
        let sunday_noon = Millis(monday_utc(12, 0).0 - DAY_MS);
        let friday_close = Millis(monday_utc(18, 0).0 - 3 * DAY_MS);
        assert_eq!(h.closed_since(sunday_noon), Some(friday_close));
    }

    #[test]
    fn round_the_clock_across_the_week_wrap() {
        let mut h = hours("UTC");
        for d in &mut h.days {
            *d = vec![TimeRange {
                start: "00:00".into(),
                end: "24:00".into(),
            }];
        }
        assert!(h.is_open(monday_utc(0, 0)));
        assert!(h.is_open(Millis(monday_utc(0, 0).0 - 1)));
    }

    #[test]
    fn validation() {
        let mut r = AutoReplyRules::default();
        r.validate().unwrap();
        r.business_hours.time_zone = "Nowhere/City".into();
        assert!(r.validate().is_err());
        let mut r = AutoReplyRules::default();
        r.business_hours.days[0] = vec![TimeRange {
            start: "18:00".into(),
            end: "09:00".into(),
        }];
        assert!(r.validate().is_err());
        r.business_hours.days[0][0].start = "25:00".into();
        assert!(r.validate().is_err());
        let mut r = AutoReplyRules::default();
        r.business_hours.days.pop();
        assert!(r.validate().is_err());
        let mut r: AutoReplyRules = serde_json::from_value(serde_json::json!({
            "keywords": [{"keywords": [" 发货 ", ""], "reply": "48小时内发货"}]
        }))
        .unwrap();
        r.validate().unwrap();
        assert_eq!(r.keywords[0].keywords, vec!["发货"]);
        assert_eq!(r.keywords[0].cooldown_minutes, 30);
        assert!(!r.keywords[0].id.is_empty());
        r.keywords[0].reply.clear();
        assert!(r.validate().is_err(), "no reply and no script");
        r.keywords[0].script_id = Some(3);
        r.validate().unwrap();
        r.keywords[0].cooldown_minutes = 0;
        assert!(r.validate().is_err());
    }

    #[test]
    fn keyword_matching_folds_case_and_width() {
        let rules: AutoReplyRules = serde_json::from_value(serde_json::json!({
            "keywords": [
                {"id": "a", "keywords": ["发货", "shipping"], "reply": "x"},
                {"id": "b", "keywords": ["在吗"], "match": "exact", "reply": "y"},
                {"id": "c", "enabled": false, "keywords": ["退款"], "reply": "z"}
            ]
        }))
        .unwrap();
        assert_eq!(rules.keyword_match("什么时候发货呀").unwrap().id, "a");
        assert_eq!(rules.keyword_match("ＳＨＩＰＰＩＮＧ?").unwrap().id, "a");
        assert_eq!(rules.keyword_match(" 在吗 ").unwrap().id, "b");
        assert!(rules.keyword_match("在吗？亲").is_none(), "exact only");
        assert!(rules.keyword_match("我要退款").is_none(), "disabled");
        assert!(rules.active());
    }

    #[test]
    fn tags_and_snooze() {
        assert_eq!(normalize_tag("  VIP   客户 ").unwrap(), "VIP 客户");
        assert!(normalize_tag("   ").is_err());
        assert!(normalize_tag(&"x".repeat(33)).is_err());
        assert!(normalize_tag("a\u{7}b").is_err());
        let now = Millis(1_000_000);
        assert!(validate_snooze(now, now).is_err());
        assert!(validate_snooze(Millis(now.0 + 1000), now).is_ok());
        assert!(validate_snooze(Millis(now.0 + MAX_SNOOZE_MS + 1), now).is_err());
        assert_eq!(excerpt("a\n b"), "a b");
        assert_eq!(excerpt(&"字".repeat(130)).chars().count(), 121);
    }

    proptest! {
        /// For a fixed-offset zone, a closed period begins exactly at a closing time: open just
        /// before it, closed from it up to now.
        #[test]
        fn closed_since_is_the_last_closing(
            now in 1_600_000_000_000i64..1_900_000_000_000i64,
            starts in proptest::collection::vec(0i64..23, 7),
            lens in proptest::collection::vec(0i64..10, 7),
            zone in prop::sample::select(vec!["Asia/Shanghai", "UTC", "Asia/Kolkata", "Asia/Tokyo"]),
        ) {
            let days = starts.iter().zip(&lens).map(|(s, l)| {
                if *l == 0 { vec![] } else {
                    vec![TimeRange { start: format!("{s:02}:00"), end: format!("{:02}:00", (s + l).min(24)) }]
                }
            }).collect();
            let h = BusinessHours { enabled: true, time_zone: zone.into(), days };
            let now = Millis(now);
            match h.closed_since(now) {
                None => prop_assert!(h.is_open(now)),
                Some(Millis(0)) => prop_assert!(lens.iter().all(|l| *l == 0)),
                Some(t) => {
                    prop_assert!(t <= now);
                    prop_assert!(now.0 - t.0 <= WEEK_MS);
                    prop_assert!(h.is_open(Millis(t.0 - 1)));
                    prop_assert!(!h.is_open(t));
                    prop_assert!(!h.is_open(Millis(t.0 + (now.0 - t.0) / 2)));
                }
            }
        }
    }
}
