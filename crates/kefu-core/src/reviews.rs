//! Negative reviews (中差评): reviews imported from the shop's platforms (batch API or CSV), and the
//! follow-up task a low rating opens, with its target time and recorded outcome.
//!
//! A review is idempotent on the shop's own review id: importing it again updates it (or changes
//! nothing), never duplicates it or its task. A review at or below the shop's threshold
//! ([`ReviewSettings::low_rating_threshold`]) opens one follow-up task, due
//! [`ReviewSettings::followup_hours`] after the import. A task is `open` until its outcome is
//! recorded (`resolved`, `review_revised`, `no_response`) with a note; it is overdue while open
//! past its due time. Rules are pure here; [`ReviewStore`] is the storage port.

use crate::aftersales::AgentRef;
use crate::commerce::{BatchOutcome, TimeInput};
use crate::model::{CustomerRef, Id};
use crate::tabular::{self, Column, Reason, Table};
use crate::time::Millis;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::io::Read;
use utoipa::ToSchema;

/// The most reviews one batch (or CSV chunk) carries.
pub const MAX_BATCH_REVIEWS: usize = 1000;
pub const HOUR_MS: i64 = 3_600_000;

/// Per-shop settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReviewSettings {
    /// A rating at or below this (1–5) opens a follow-up task. Default 3.
    pub low_rating_threshold: i64,
    /// The task is due this many hours after the import (1–720). Default 24.
    pub followup_hours: i64,
}

impl Default for ReviewSettings {
    fn default() -> Self {
        ReviewSettings {
            low_rating_threshold: 3,
            followup_hours: 24,
        }
    }
}

impl ReviewSettings {
    pub fn validate(&self) -> Result<()> {
        if !(1..=5).contains(&self.low_rating_threshold) {
            return Err(Error::validation(
                "low_rating_threshold: must be between 1 and 5",
            ));
        }
        if !(1..=720).contains(&self.followup_hours) {
            return Err(Error::validation(
                "followup_hours: must be between 1 and 720",
            ));
        }
        Ok(())
    }

    /// Whether a review with this rating needs a follow-up.
    pub fn is_low(&self, rating: i64) -> bool {
        rating <= self.low_rating_threshold
    }

    pub fn due_at(&self, imported_at: Millis) -> Millis {
        Millis(imported_at.0 + self.followup_hours * HOUR_MS)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowupStatus {
    Open,
    /// The shopper's problem was solved.
    Resolved,
    /// The shopper changed (or removed) the review.
    ReviewRevised,
    /// The shopper never answered.
    NoResponse,
}

impl FollowupStatus {
    pub const ALL: [FollowupStatus; 4] = [
        FollowupStatus::Open,
        FollowupStatus::Resolved,
        FollowupStatus::ReviewRevised,
        FollowupStatus::NoResponse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FollowupStatus::Open => "open",
            FollowupStatus::Resolved => "resolved",
            FollowupStatus::ReviewRevised => "review_revised",
            FollowupStatus::NoResponse => "no_response",
        }
    }

    pub fn parse(s: &str) -> Option<FollowupStatus> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A review as clients send it (`POST /api/v1/reviews/batch`, one CSV row).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ReviewInput {
    /// The shop's (or platform's) own id of the review: the idempotency key.
    pub review_id: String,
    /// Where it was posted, e.g. `taobao`, `jd`, `pdd`, `douyin`.
    pub platform: String,
    /// 1–5 stars.
    pub rating: i64,
    #[serde(default)]
    pub text: String,
    /// Links the review to the shop's order (and so its customer) when the number is known.
    #[serde(default)]
    pub order_no: Option<String>,
    pub reviewed_at: TimeInput,
}

/// A validated review.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewDoc {
    pub review_id: String,
    pub platform: String,
    pub rating: i64,
    pub text: String,
    pub order_no: Option<String>,
    pub reviewed_at: Millis,
}

/// Validates a review; errors name the field under `prefix` (e.g. `reviews[3].`).
pub fn validate_review(prefix: &str, r: &ReviewInput) -> Result<ReviewDoc> {
    let review_id = r.review_id.trim();
    if review_id.is_empty()
        || review_id.chars().count() > 64
        || review_id.chars().any(char::is_control)
    {
        return Err(Error::validation(format!(
            "{prefix}review_id: must be 1-64 characters without control characters"
        )));
    }
    let platform = r.platform.trim().to_lowercase();
    if platform.is_empty()
        || platform.chars().count() > 32
        || platform.chars().any(char::is_control)
    {
        return Err(Error::validation(format!(
            "{prefix}platform: must be 1-32 characters"
        )));
    }
    if !(1..=5).contains(&r.rating) {
        return Err(Error::validation(format!(
            "{prefix}rating: must be between 1 and 5"
        )));
    }
    let text = r.text.trim();
    if text.chars().count() > 5000 {
        return Err(Error::validation(format!(
            "{prefix}text: must be at most 5000 characters"
        )));
    }
    let order_no = r
        .order_no
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(no) = order_no
        && (no.chars().count() > 64 || no.chars().any(char::is_control))
    {
        return Err(Error::validation(format!(
            "{prefix}order_no: must be at most 64 characters"
        )));
    }
    Ok(ReviewDoc {
        review_id: review_id.to_owned(),
        platform,
        rating: r.rating,
        text: text.to_owned(),
        order_no: order_no.map(str::to_owned),
        reviewed_at: r.reviewed_at.parse(&format!("{prefix}reviewed_at"))?,
    })
}

/// The CSV columns (`*` required), in the documented order.
pub const CSV_COLUMNS: &[&str] = &[
    "review_id*",
    "platform*",
    "rating*",
    "text",
    "order_no",
    "reviewed_at*",
];

/// The columns with the names Chinese files (platform exports, Excel) give them.
pub const CSV_COLUMN_SPEC: &[Column] = &[
    Column {
        name: "review_id",
        required: true,
        aliases: &["评价编号", "评价id", "评论id", "评价单号"],
    },
    Column {
        name: "platform",
        required: true,
        aliases: &["平台", "渠道", "来源平台"],
    },
    Column {
        name: "rating",
        required: true,
        aliases: &["评分", "星级", "评价等级", "分数"],
    },
    Column {
        name: "text",
        required: false,
        aliases: &["评价内容", "内容", "评论内容", "评价"],
    },
    Column {
        name: "order_no",
        required: false,
        aliases: &["订单号", "订单编号"],
    },
    Column {
        name: "reviewed_at",
        required: true,
        aliases: &["评价时间", "评论时间", "时间"],
    },
];

/// The template's example row (headers: the first alias of each column).
pub const TEMPLATE_EXAMPLES: &[&[&str]] = &[&[
    "RV20261206001",
    "淘宝",
    "1",
    "包装破损，耳机有划痕",
    "E2026120600001",
    "2026/12/6 18:30",
]];

/// The template's Chinese headers.
pub fn template_headers() -> Vec<&'static str> {
    CSV_COLUMN_SPEC.iter().map(|c| c.aliases[0]).collect()
}

/// Platforms as Chinese files name them.
fn platform_value(v: &str) -> &str {
    match v {
        "淘宝" | "天猫" | "淘宝/天猫" => "taobao",
        "京东" => "jd",
        "拼多多" => "pdd",
        "抖音" | "抖店" => "douyin",
        "快手" => "kuaishou",
        "小红书" => "xiaohongshu",
        "微信" | "微店" | "微信小店" => "wechat",
        other => other,
    }
}

/// Ratings as platforms export them: `1`–`5`, `1星`, or 好评/中评/差评.
fn rating_value(v: &str) -> Option<i64> {
    match v {
        "差评" => Some(1),
        "中评" => Some(3),
        "好评" => Some(5),
        _ => {
            let t = v.trim_end_matches(['星', '分']).trim();
            tabular::parse_whole(t).ok()
        }
    }
}

/// A rejected CSV row.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct BadRow {
    /// 1-based line in the file (the header is line 1; a record spanning lines has the line it
    /// starts on).
    pub line: u64,
    pub review_id: String,
    /// The column at fault (`-` for the row as a whole).
    pub field: String,
    /// That column's header as the file has it (`评分`), when the file has the column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Why, as a stable code the console translates (see `tabular::Reason`).
    pub code: String,
    /// The other line a `differs` reason compares with (a repeated review id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_line: Option<u64>,
    /// The reason in English.
    pub message: String,
}

/// What a CSV import did.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ReviewImportReport {
    pub rows: u64,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: usize,
    /// Follow-up tasks opened by this import.
    pub followups_opened: usize,
    /// Every bad row, in file order (at most 1000).
    pub bad_rows: Vec<BadRow>,
}

/// A parsed CSV: the valid rows with their line numbers, the bad rows, and how many rows there were.
pub type ParsedCsv = (Vec<(usize, ReviewDoc)>, Vec<BadRow>, u64);

/// Parses a review file (CSV in any accepted encoding, or XLSX; see [`crate::tabular`]): the
/// valid rows (with their line numbers) and the bad ones. A row is all or nothing: any bad cell
/// rejects it. A missing required column fails the whole file. Times without an offset are read in
/// the shop's `zone`.
pub fn parse_csv(input: impl Read, zone: &str) -> Result<ParsedCsv> {
    let mut table = Table::open(input)?;
    let col = tabular::resolve_headers(table.headers(), CSV_COLUMN_SPEC)?;
    let table_headers = table.headers().to_vec();
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut rows = 0u64;
    let mut seen = std::collections::HashMap::new();
    while let Some(record) = table.next_record() {
        rows += 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                bad.push(BadRow {
                    line: e.line,
                    review_id: String::new(),
                    field: "-".into(),
                    column: None,
                    code: Reason::UnreadableRow.as_str().into(),
                    other_line: None,
                    message: e.message,
                });
                continue;
            }
        };
        let line = record.line;
        let cell = |name: &str| {
            col.get(name)
                .and_then(|&at| record.cells.get(at))
                .unwrap_or("")
        };
        let review_id = cell("review_id").to_owned();
        let fail = |field: &str, code: Reason, message: String| BadRow {
            line,
            review_id: review_id.clone(),
            field: field.into(),
            column: col.get(field).and_then(|&i| table_headers.get(i)).cloned(),
            code: code.as_str().into(),
            other_line: None,
            message,
        };
        if record.cells.iter().any(|c| c.contains('\0')) {
            bad.push(fail(
                "-",
                Reason::NulCharacter,
                "a cell contains the NUL character (U+0000)".into(),
            ));
            continue;
        }
        let rating = match rating_value(cell("rating")) {
            Some(r) => r,
            None => {
                bad.push(fail(
                    "rating",
                    Reason::BadValue,
                    "must be between 1 and 5, or 差评, 中评, 好评".into(),
                ));
                continue;
            }
        };
        let reviewed_at = match tabular::parse_local_time(cell("reviewed_at"), zone) {
            Ok(at) => TimeInput::Millis(at.0),
            Err(code) => {
                bad.push(fail(
                    "reviewed_at",
                    code,
                    "must be a time like 2026/12/6 16:00 or 2026-12-06 16:00:00".into(),
                ));
                continue;
            }
        };
        let input = ReviewInput {
            review_id: review_id.clone(),
            platform: platform_value(cell("platform")).to_owned(),
            rating,
            text: cell("text").to_owned(),
            order_no: Some(cell("order_no").to_owned()),
            reviewed_at,
        };
        match validate_review("", &input) {
            Ok(doc) => {
                if let Some(first) = seen.insert(doc.review_id.clone(), line) {
                    bad.push(BadRow {
                        other_line: Some(first),
                        ..fail(
                            "review_id",
                            Reason::Differs,
                            format!("the same review_id as line {first}"),
                        )
                    });
                    continue;
                }
                good.push((line as usize, doc));
            }
            Err(e) => {
                let (field, message) = match e.message.split_once(": ") {
                    Some((f, m)) => (f.to_owned(), m.to_owned()),
                    None => ("-".to_owned(), e.message.clone()),
                };
                let empty =
                    matches!(field.as_str(), "review_id" | "platform") && cell(&field).is_empty();
                let code = if empty {
                    Reason::Required
                } else {
                    Reason::of_message(&message)
                };
                bad.push(fail(&field, code, message));
            }
        }
    }
    Ok((good, bad, rows))
}

/// A stored review.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Review {
    pub id: Id,
    pub review_id: String,
    pub platform: String,
    pub rating: i64,
    pub text: String,
    pub order_no: Option<String>,
    /// The shop's order with that number, when known.
    pub order_id: Option<Id>,
    /// The order's customer, when known.
    pub customer: Option<CustomerRef>,
    pub reviewed_at: Millis,
    pub imported_at: Millis,
    pub updated_at: Millis,
    /// The follow-up task of a low rating.
    pub followup_id: Option<Id>,
    pub followup_status: Option<FollowupStatus>,
}

/// A follow-up task with its review.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Followup {
    pub id: Id,
    pub status: FollowupStatus,
    pub assignee: Option<AgentRef>,
    pub due_at: Millis,
    /// Open and past its due time (as of the read).
    pub overdue: bool,
    pub outcome_note: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub closed_at: Option<Millis>,
    pub closed_by: Option<AgentRef>,
    pub review: Review,
}

impl Followup {
    /// Sets `overdue` as of `now`.
    pub fn judge(mut self, now: Millis) -> Self {
        self.overdue = is_overdue(self.status, self.due_at, now);
        self
    }
}

/// A task is overdue while it is open and its due time has passed.
pub fn is_overdue(status: FollowupStatus, due_at: Millis, now: Millis) -> bool {
    status == FollowupStatus::Open && due_at < now
}

/// `PATCH /api/v1/review-followups/{id}`: the outcome (with its note) and/or the assignee.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct FollowupPatch {
    /// `resolved`, `review_revised` or `no_response` closes the task (a note is required).
    #[serde(default)]
    pub status: Option<FollowupStatus>,
    #[serde(default)]
    pub outcome_note: Option<String>,
    /// An agent of the shop, or `null` for nobody. Absent: unchanged.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub assignee_id: Option<Option<Id>>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Id>>, D::Error> {
    Option::<Id>::deserialize(d).map(Some)
}

impl FollowupPatch {
    /// Checks the patch against the task's current status: an outcome closes an open task once
    /// (`conflict` otherwise), needs a note, and `open` is not an outcome.
    pub fn check(&self, current: FollowupStatus) -> Result<()> {
        if self.status.is_none() && self.outcome_note.is_none() && self.assignee_id.is_none() {
            return Err(Error::validation(
                "give status, outcome_note or assignee_id",
            ));
        }
        if let Some(note) = &self.outcome_note
            && (note.chars().count() > 2000 || note.chars().any(|c| c.is_control() && c != '\n'))
        {
            return Err(Error::validation(
                "outcome_note: must be at most 2000 characters",
            ));
        }
        if let Some(to) = self.status {
            if to == FollowupStatus::Open {
                return Err(Error::validation(
                    "status: must be resolved, review_revised or no_response",
                ));
            }
            if current != FollowupStatus::Open {
                return Err(Error::conflict(format!(
                    "cannot record an outcome for a follow-up that is {} (it must be open)",
                    current.as_str()
                )));
            }
            if self
                .outcome_note
                .as_deref()
                .is_none_or(|n| n.trim().is_empty())
            {
                return Err(Error::validation(
                    "outcome_note: say what was done (required with an outcome)",
                ));
            }
        } else if self.outcome_note.is_some() && current == FollowupStatus::Open {
            // A note alone on an open task is a progress note: allowed.
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default)]
pub struct ReviewQuery {
    /// Ratings at or below.
    pub rating_max: Option<i64>,
    pub rating: Option<i64>,
    /// The follow-up's status.
    pub status: Option<FollowupStatus>,
    /// Only reviews whose follow-up is overdue at `now`.
    pub overdue: bool,
    pub platform: Option<String>,
    /// Keyset: reviews strictly older than `(reviewed_at, id)`.
    pub before: Option<(Millis, Id)>,
    pub limit: i64,
}

#[derive(Debug, Clone, Default)]
pub struct FollowupQuery {
    pub status: Option<FollowupStatus>,
    pub overdue: bool,
    pub assignee_id: Option<Id>,
    /// Agents: tasks assigned to them or to nobody.
    pub visible_to: Option<Id>,
    /// Keyset: tasks strictly after `(due_at, id)` (the queue is soonest due first, so the
    /// overdue ones lead).
    pub after: Option<(Millis, Id)>,
    pub limit: i64,
}

/// Storage for reviews and their follow-up tasks. Scoped by shop; writes return once committed.
#[async_trait]
pub trait ReviewStore: Send + Sync + 'static {
    async fn review_settings(&self, shop_id: Id) -> Result<ReviewSettings>;
    async fn put_review_settings(
        &self,
        shop_id: Id,
        settings: &ReviewSettings,
    ) -> Result<ReviewSettings>;
    /// Stores reviews, each all or nothing; a low rating without a task gets one (due after the
    /// shop's hours from `now`). Item keys are review ids; `touched_customer_ids` are the linked
    /// customers of created or changed reviews.
    async fn import_reviews(
        &self,
        shop_id: Id,
        reviews: Vec<(usize, ReviewDoc)>,
        now: Millis,
    ) -> Result<(BatchOutcome, usize)>;
    async fn list_reviews(
        &self,
        shop_id: Id,
        query: &ReviewQuery,
        now: Millis,
    ) -> Result<Vec<Review>>;
    async fn list_followups(
        &self,
        shop_id: Id,
        query: &FollowupQuery,
        now: Millis,
    ) -> Result<Vec<Followup>>;
    async fn followup(&self, shop_id: Id, id: Id, now: Millis) -> Result<Option<Followup>>;
    /// Applies a patch checked against the stored status in the same write ([`FollowupPatch::check`]).
    async fn update_followup(
        &self,
        shop_id: Id,
        id: Id,
        patch: FollowupPatch,
        actor: AgentRef,
        now: Millis,
    ) -> Result<Followup>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_overdue() {
        let s = ReviewSettings::default();
        assert!(s.is_low(3) && !s.is_low(4));
        assert_eq!(s.due_at(Millis(0)), Millis(24 * HOUR_MS));
        assert!(
            ReviewSettings {
                low_rating_threshold: 6,
                ..s
            }
            .validate()
            .is_err()
        );
        assert!(is_overdue(FollowupStatus::Open, Millis(10), Millis(11)));
        assert!(!is_overdue(FollowupStatus::Open, Millis(10), Millis(10)));
        assert!(!is_overdue(
            FollowupStatus::Resolved,
            Millis(10),
            Millis(11)
        ));
    }

    #[test]
    fn csv_rows_are_all_or_nothing_with_line_numbers() {
        let csv = "review_id,platform,rating,text,order_no,reviewed_at\n\
                   R1,taobao,1,\"破损了, 很失望\",A1,2026-11-20 10:00\n\
                   R2,jd,9,ok,,2026-11-20 10:00\n\
                   R3,jd,2,slow,,yesterday\n\
                   R1,jd,5,dup,,2026-11-20\n\
                   R4,,3,x,,2026-11-20\n\
                   R5,pdd,4,好,,2026-11-21\n";
        let (good, bad, rows) = parse_csv(csv.as_bytes(), "Asia/Shanghai").unwrap();
        assert_eq!(rows, 6);
        assert_eq!(
            good.iter()
                .map(|(l, d)| (*l, d.review_id.as_str()))
                .collect::<Vec<_>>(),
            vec![(2, "R1"), (7, "R5")]
        );
        assert_eq!(good[0].1.text, "破损了, 很失望");
        let got: Vec<_> = bad.iter().map(|b| (b.line, b.field.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (3, "rating"),
                (4, "reviewed_at"),
                (5, "review_id"),
                (6, "platform")
            ]
        );
        let e = parse_csv("review_id,rating\nR1,1\n".as_bytes(), "Asia/Shanghai").unwrap_err();
        assert!(e.message.contains("platform"), "{}", e.message);
        let codes: Vec<_> = bad.iter().map(|b| b.code.as_str()).collect();
        assert_eq!(codes, ["bad_value", "bad_time", "differs", "required"]);
        // A Chinese platform export, in GBK: 差评 is one star, 淘宝 is taobao.
        let zh = "评价编号,平台,评分,评价内容,订单号,评价时间\r\nZ1,淘宝,差评,\"破损\r\n很失望\",A1,2026/12/6 16:00\r\nZ2,京东,9星,,,2026/12/6\r\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(zh);
        let (good, bad, _) = parse_csv(gbk.as_ref(), "Asia/Shanghai").unwrap();
        assert_eq!(
            (good[0].1.rating, good[0].1.platform.as_str()),
            (1, "taobao")
        );
        assert_eq!(
            good[0].1.reviewed_at,
            Millis(1_796_515_200_000 + 8 * 3_600_000)
        );
        assert_eq!((bad[0].line, bad[0].code.as_str()), (4, "bad_value"));
    }

    #[test]
    fn outcomes_need_an_open_task_and_a_note() {
        let close = |note: &str| FollowupPatch {
            status: Some(FollowupStatus::Resolved),
            outcome_note: Some(note.into()),
            assignee_id: None,
        };
        assert!(close("已补偿").check(FollowupStatus::Open).is_ok());
        assert!(close(" ").check(FollowupStatus::Open).is_err());
        let e = close("again").check(FollowupStatus::Resolved).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::Conflict);
        assert!(
            FollowupPatch::default()
                .check(FollowupStatus::Open)
                .is_err()
        );
    }
}
