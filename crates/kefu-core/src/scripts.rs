//! Service scripts (话术): a shop's library of proven replies, in categories, shop-wide or personal.
//!
//! Owns the types ([`Script`], [`ScriptCategory`]), their validation, the variables a script may use
//! and the pure [`render`]er that fills them from a conversation's context, the default Chinese
//! library every shop starts with ([`default_library`], a data file in this crate), the import
//! formats (JSON and CSV, per-row errors) and the usage statistics. [`ScriptStore`] is the storage
//! port, required by [`crate::store::Store`].
//!
//! A missing variable value is never sent blank: [`render`] leaves the `{name}` in the text and
//! lists it, and the send path refuses a text that still holds a known variable
//! ([`unfilled_variables`]), so the agent must fill or edit it first.

use crate::model::Id;
use crate::tabular::{self, Column, Reason, Table};
use crate::time::Millis;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const MAX_TITLE_CHARS: usize = 100;
pub const MAX_BODY_CHARS: usize = 2000;
pub const MAX_SHORTCUT_CHARS: usize = 32;
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_CHARS: usize = 20;
pub const MAX_CATEGORY_NAME_CHARS: usize = 30;
/// Categories per shop: a picker with more is no longer browsable.
pub const MAX_CATEGORIES: i64 = 100;
/// Rows per import request.
pub const MAX_IMPORT_ROWS: usize = 2000;
/// A use "led to an order" when the conversation's customer placed one within this time after it.
pub const ORDER_WINDOW_MS: i64 = 48 * 3600 * 1000;

/// A category of the library (per shop, ordered by `position`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ScriptCategory {
    pub id: Id,
    pub name: String,
    pub position: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewScriptCategory {
    pub name: String,
    /// Sort position (smaller first); new categories go last when omitted.
    pub position: Option<i64>,
}

impl NewScriptCategory {
    /// Trims the name and checks it.
    pub fn validate(&mut self) -> Result<()> {
        self.name = self.name.trim().to_owned();
        let n = self.name.chars().count();
        if n == 0 || n > MAX_CATEGORY_NAME_CHARS {
            return Err(Error::validation(format!(
                "name: must be 1-{MAX_CATEGORY_NAME_CHARS} characters"
            )));
        }
        if let Some(p) = self.position
            && !(0..=100_000).contains(&p)
        {
            return Err(Error::validation("position: must be between 0 and 100000"));
        }
        Ok(())
    }
}

/// One script. `owner_id` is `None` for a shop-wide script, the agent's id for a personal one.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Script {
    pub id: Id,
    pub shop_id: Id,
    pub owner_id: Option<Id>,
    pub category_id: Id,
    /// The category's name (read with the script, for lists and suggestions).
    pub category: String,
    pub title: String,
    pub body: String,
    pub shortcut: Option<String>,
    pub tags: Vec<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A script as created or replaced (the owner is decided by the caller, not the body).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewScript {
    pub category_id: Id,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub shortcut: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl NewScript {
    /// Normalises (trims; shortcut lower case, empty = none; tags trimmed and deduplicated) and
    /// checks the limits.
    pub fn validate(&mut self) -> Result<()> {
        self.title = self.title.trim().to_owned();
        let n = self.title.chars().count();
        if n == 0 || n > MAX_TITLE_CHARS {
            return Err(Error::validation(format!(
                "title: must be 1-{MAX_TITLE_CHARS} characters"
            )));
        }
        self.body = self.body.trim().to_owned();
        let n = self.body.chars().count();
        if n == 0 || n > MAX_BODY_CHARS {
            return Err(Error::validation(format!(
                "body: must be 1-{MAX_BODY_CHARS} characters"
            )));
        }
        self.shortcut = match self.shortcut.as_deref().map(|s| s.trim().to_lowercase()) {
            None => None,
            Some(s) if s.is_empty() => None,
            Some(s) => {
                let ok_chars = s
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
                if s.len() > MAX_SHORTCUT_CHARS || !ok_chars {
                    return Err(Error::validation(format!(
                        "shortcut: at most {MAX_SHORTCUT_CHARS} of a-z, 0-9, _ and -"
                    )));
                }
                Some(s)
            }
        };
        let mut tags: Vec<String> = Vec::new();
        for t in &self.tags {
            let t = t.trim();
            if t.is_empty() {
                continue;
            }
            if t.chars().count() > MAX_TAG_CHARS || t.contains('|') {
                return Err(Error::validation(format!(
                    "tags: each at most {MAX_TAG_CHARS} characters, without |"
                )));
            }
            if !tags.iter().any(|x| x == t) {
                tags.push(t.to_owned());
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(Error::validation(format!("tags: at most {MAX_TAGS}")));
        }
        self.tags = tags;
        Ok(())
    }
}

// ---- variables ----

/// The variables a script may use, with a Chinese label for the console.
pub const VARIABLES: &[(&str, &str)] = &[
    ("customer.name", "顾客称呼"),
    ("agent.name", "客服名字"),
    ("shop.name", "店铺名称"),
    ("order.no", "订单号"),
    ("order.amount", "订单金额"),
    ("order.shipping_fee", "运费"),
    ("order.status", "订单状态"),
    ("product.name", "商品名称"),
    ("product.price", "商品价格"),
];

pub fn is_known_variable(name: &str) -> bool {
    VARIABLES.iter().any(|(v, _)| *v == name)
}

/// The order fields a script can show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderVars {
    pub id: Id,
    pub order_no: String,
    pub total_cents: i64,
    pub shipping_fee_cents: i64,
    pub currency: String,
    pub status: String,
    pub payment_status: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductVars {
    pub id: Id,
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
}

/// What a conversation knows for the variables; `None` or empty means missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderContext {
    pub customer_name: Option<String>,
    pub agent_name: Option<String>,
    pub shop_name: Option<String>,
    pub order: Option<OrderVars>,
    pub product: Option<ProductVars>,
}

/// Money as shoppers read it in chat: `¥12.34` for yuan, `12.34 USD` otherwise.
pub fn money(cents: i64, currency: &str) -> String {
    let amount = crate::commerce::money::format_yuan(cents);
    match currency {
        "CNY" | "" => format!("¥{amount}"),
        other => format!("{amount} {other}"),
    }
}

impl RenderContext {
    /// The value of a known variable, `None` when this context lacks it (or it is blank).
    pub fn value(&self, name: &str) -> Option<String> {
        let v = match name {
            "customer.name" => self.customer_name.clone(),
            "agent.name" => self.agent_name.clone(),
            "shop.name" => self.shop_name.clone(),
            "order.no" => self.order.as_ref().map(|o| o.order_no.clone()),
            "order.amount" => self
                .order
                .as_ref()
                .map(|o| money(o.total_cents, &o.currency)),
            "order.shipping_fee" => self.order.as_ref().map(|o| {
                if o.shipping_fee_cents == 0 {
                    "包邮".to_owned()
                } else {
                    money(o.shipping_fee_cents, &o.currency)
                }
            }),
            "order.status" => self
                .order
                .as_ref()
                .map(|o| crate::cards::order_state_label(&o.status, &o.payment_status).to_owned()),
            "product.name" => self.product.as_ref().map(|p| p.name.clone()),
            "product.price" => self
                .product
                .as_ref()
                .map(|p| money(p.price_cents, &p.currency)),
            _ => None,
        };
        v.filter(|s| !s.trim().is_empty())
    }
}

/// A rendered script: the text (known variables with a value filled, the others left as `{name}`)
/// and the known variables left unfilled, in order of first appearance.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Rendered {
    pub text: String,
    pub missing: Vec<String>,
}

/// Calls `f(text_before, Some(variable))` for each `{known.variable}` and `f(text, None)` for the
/// text between them; unknown `{x}` and unbalanced braces are plain text.
fn walk<'a>(body: &'a str, mut f: impl FnMut(&'a str, Option<&'a str>)) {
    let mut rest = body;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_known_variable(&after[..close]) => {
                f(&rest[..open], Some(&after[..close]));
                rest = &after[close + 1..];
            }
            _ => {
                f(&rest[..open + 1], None);
                rest = after;
            }
        }
    }
    f(rest, None);
}

/// Fills the known variables of `body` from `ctx`. Values are inserted once, left to right, so a
/// customer named `{order.no}` stays literally that.
pub fn render(body: &str, ctx: &RenderContext) -> Rendered {
    let mut text = String::with_capacity(body.len() + 32);
    let mut missing: Vec<String> = Vec::new();
    walk(body, |before, var| {
        text.push_str(before);
        if let Some(var) = var {
            match ctx.value(var) {
                Some(v) => text.push_str(&v),
                None => {
                    text.push('{');
                    text.push_str(var);
                    text.push('}');
                    if !missing.iter().any(|m| m == var) {
                        missing.push(var.to_owned());
                    }
                }
            }
        }
    });
    Rendered { text, missing }
}

/// The known variables still in a text (deduplicated, in order): such a text must not be sent.
pub fn unfilled_variables(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    walk(text, |_, var| {
        if let Some(v) = var
            && !out.iter().any(|m| m == v)
        {
            out.push(v.to_owned());
        }
    });
    out
}

// ---- the default library ----

#[derive(Debug, Clone, Deserialize)]
pub struct DefaultCategory {
    pub name: String,
    pub scripts: Vec<DefaultScript>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DefaultScript {
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub shortcut: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The library every shop starts with, written for kefu (`scripts/default_library.json`). It is
/// seeded once per shop, the first time the shop's library is read (see the stores'
/// `ensure_script_library`), so shops created before this feature get it too.
pub fn default_library() -> Vec<DefaultCategory> {
    // The file is part of the binary and checked by a unit test: it cannot fail to parse.
    serde_json::from_str(include_str!("scripts/default_library.json"))
        .expect("default_library.json is valid")
}

// ---- import / export ----

/// One script in the import/export formats. `id` names a script of this shop to update; without
/// it, a script of the same scope with the same category and title is updated, else one is created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScriptRecord {
    #[serde(default)]
    pub id: Option<Id>,
    pub category: String,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub shortcut: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A row of an import that was checked: its line (JSON: position in the array from 1; CSV: the
/// line in the file, header = 1) and the record or why it was refused.
pub type ImportRow = (usize, Result<ScriptRecord>);

impl ScriptRecord {
    /// Checks the record as a script would be checked (the category name is checked too).
    pub fn validate(&mut self) -> Result<()> {
        let mut cat = NewScriptCategory {
            name: self.category.clone(),
            position: None,
        };
        cat.validate()
            .map_err(|e| Error::validation(format!("category: {}", e.message)))?;
        self.category = cat.name;
        let mut s = NewScript {
            category_id: 0,
            title: std::mem::take(&mut self.title),
            body: std::mem::take(&mut self.body),
            shortcut: self.shortcut.take(),
            tags: std::mem::take(&mut self.tags),
        };
        let r = s.validate();
        self.title = s.title;
        self.body = s.body;
        self.shortcut = s.shortcut;
        self.tags = s.tags;
        r
    }
}

/// The JSON import: an array of records or `{"scripts": [...]}` (what the export writes).
pub fn parse_import_json(input: &str) -> Result<Vec<ImportRow>> {
    let value: serde_json::Value =
        serde_json::from_str(input).map_err(|e| Error::validation(format!("invalid JSON: {e}")))?;
    let items = match value {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(mut o) => match o.remove("scripts") {
            Some(serde_json::Value::Array(a)) => a,
            _ => {
                return Err(Error::validation(
                    "expected an array of scripts or {\"scripts\": [...]}",
                ));
            }
        },
        _ => {
            return Err(Error::validation(
                "expected an array of scripts or {\"scripts\": [...]}",
            ));
        }
    };
    if items.len() > MAX_IMPORT_ROWS {
        return Err(Error::validation(format!(
            "at most {MAX_IMPORT_ROWS} scripts per import"
        )));
    }
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let r = serde_json::from_value::<ScriptRecord>(v)
                .map_err(|e| Error::validation(e.to_string()))
                .and_then(|mut r| r.validate().map(|_| r));
            (i + 1, r)
        })
        .collect())
}

/// The CSV columns, in export order. Tags are joined with `|`.
pub const CSV_HEADER: &[&str] = &["id", "category", "title", "body", "shortcut", "tags"];

/// Undoes the export's formula guard (a `'` before `= + - @`), so an export imports unchanged.
fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// The CSV/XLSX import's columns, with the names Chinese files give them.
pub const CSV_COLUMN_SPEC: &[Column] = &[
    Column {
        name: "id",
        required: false,
        aliases: &["编号"],
    },
    Column {
        name: "category",
        required: true,
        aliases: &["分类", "话术分类", "类别"],
    },
    Column {
        name: "title",
        required: true,
        aliases: &["标题", "话术标题", "名称"],
    },
    Column {
        name: "body",
        required: true,
        aliases: &["内容", "话术内容", "回复内容", "正文"],
    },
    Column {
        name: "shortcut",
        required: false,
        aliases: &["快捷短语", "快捷键", "快捷词"],
    },
    Column {
        name: "tags",
        required: false,
        aliases: &["标签"],
    },
];

/// The template's example row (headers: the first alias of each column).
pub const TEMPLATE_EXAMPLES: &[&[&str]] = &[&[
    "",
    "售后处理",
    "退款进度",
    "亲，您的退款已提交，预计 1-3 个工作日到账～",
    "tk",
    "退款|售后",
]];

/// The template's Chinese headers.
pub fn template_headers() -> Vec<&'static str> {
    CSV_COLUMN_SPEC.iter().map(|c| c.aliases[0]).collect()
}

/// The CSV (or XLSX, any encoding: see [`crate::tabular`]) import: a header naming at least
/// `category`, `title`, `body` or their Chinese names (any order; `id`, `shortcut`, `tags`
/// optional), then one script per record, each with the file line it starts on.
pub fn parse_import_csv(input: impl std::io::Read) -> Result<Vec<ImportRow>> {
    let mut table = Table::open(input)?;
    let col = tabular::resolve_headers(table.headers(), CSV_COLUMN_SPEC)?;
    let mut rows = Vec::new();
    while let Some(rec) = table.next_record() {
        if rows.len() >= MAX_IMPORT_ROWS {
            return Err(Error::validation(format!(
                "file: at most {MAX_IMPORT_ROWS} scripts per import"
            )));
        }
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                rows.push((e.line as usize, Err(Error::validation(e.message))));
                continue;
            }
        };
        let line = rec.line as usize;
        if rec.cells.iter().any(|c| c.contains('\0')) {
            rows.push((
                line,
                Err(Error::validation(
                    "body: must not contain the NUL character (U+0000)",
                )),
            ));
            continue;
        }
        let get = |name: &str| {
            col.get(name)
                .and_then(|&c| rec.cells.get(c))
                .map(unguard)
                .unwrap_or("")
        };
        let id = match get("id").trim() {
            "" => Ok(None),
            s => s
                .parse::<Id>()
                .map(Some)
                .map_err(|_| Error::validation("id: must be a number")),
        };
        let r = id.and_then(|id| {
            let mut r = ScriptRecord {
                id,
                category: get("category").to_owned(),
                title: get("title").to_owned(),
                body: get("body").to_owned(),
                shortcut: Some(get("shortcut").to_owned()),
                tags: get("tags").split('|').map(str::to_owned).collect(),
            };
            r.validate().map(|_| r)
        });
        rows.push((line, r));
    }
    Ok(rows)
}

/// The CSV export of scripts (with the formula guard of [`crate::customers::csv_cell`]).
pub fn export_csv(scripts: &[Script]) -> String {
    use crate::customers::csv_cell;
    let mut out = CSV_HEADER.join(",");
    out.push('\n');
    for s in scripts {
        let cells = [
            s.id.to_string(),
            csv_cell(&s.category),
            csv_cell(&s.title),
            csv_cell(&s.body),
            csv_cell(s.shortcut.as_deref().unwrap_or("")),
            csv_cell(&s.tags.join("|")),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// What one import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
#[schema(as = ScriptImportReport)]
pub struct ImportReport {
    pub created: i64,
    pub updated: i64,
    pub failed: i64,
    pub errors: Vec<ImportError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ImportError {
    /// The file line the row starts on (JSON: the record's position, from 1).
    pub line: usize,
    /// The field at fault (`-` for the row as a whole).
    pub field: String,
    /// Why, as a stable code the console translates (see `tabular::Reason`).
    pub code: String,
    /// The reason in English.
    pub message: String,
}

impl ImportError {
    /// From a row's error (`field: reason`, or a reason for the whole row).
    pub fn new(line: usize, e: &Error) -> Self {
        let (field, reason) = match e.message.split_once(": ") {
            Some((f, r)) if !f.contains(' ') => (f.to_owned(), r.to_owned()),
            _ => ("-".to_owned(), e.message.clone()),
        };
        let code = if e.code == crate::ErrorCode::Conflict {
            Reason::AlreadyUsed
        } else if reason.starts_with("unreadable row") || reason.starts_with("the row is not") {
            Reason::UnreadableRow
        } else {
            Reason::of_message(&reason)
        };
        Self {
            line,
            field,
            code: code.as_str().to_owned(),
            message: reason,
        }
    }
}

// ---- statistics ----

/// Usage of one script.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ScriptStats {
    pub script_id: Id,
    /// Times sent.
    pub uses: i64,
    /// Distinct conversations it was sent in.
    pub conversations: i64,
    /// Of those, conversations whose customer placed an order within 48 h after a use.
    pub converted: i64,
    /// `converted / conversations` (0 when never used).
    pub conversion_rate: f64,
    pub last_used_at: Option<Millis>,
}

impl ScriptStats {
    pub fn new(
        script_id: Id,
        uses: i64,
        conversations: i64,
        converted: i64,
        last_used_at: Option<Millis>,
    ) -> Self {
        let conversion_rate = if conversations > 0 {
            converted as f64 / conversations as f64
        } else {
            0.0
        };
        ScriptStats {
            script_id,
            uses,
            conversations,
            converted,
            conversion_rate,
            last_used_at,
        }
    }
}

/// A recorded use of a script (the message it was sent in, when known).
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptUse {
    pub shop_id: Id,
    pub script_id: Id,
    pub agent_id: Id,
    pub conversation_id: Id,
    pub message_id: Option<Id>,
}

/// Storage of the library. Every method is scoped by shop: another shop's id is `not_found`.
#[async_trait]
pub trait ScriptStore {
    /// The shop's categories by position (seeding the default library on the first read).
    async fn script_categories(&self, shop_id: Id) -> Result<Vec<ScriptCategory>>;
    /// `conflict` when the name is taken.
    async fn create_script_category(
        &self,
        shop_id: Id,
        category: &NewScriptCategory,
    ) -> Result<ScriptCategory>;
    async fn update_script_category(
        &self,
        shop_id: Id,
        id: Id,
        category: &NewScriptCategory,
    ) -> Result<ScriptCategory>;
    /// `conflict` while any script (of anyone) is in it.
    async fn delete_script_category(&self, shop_id: Id, id: Id) -> Result<()>;

    /// The shop-wide scripts and `viewer_agent_id`'s personal ones, by category position, then in
    /// creation order (seeding the default library on the first read).
    async fn list_scripts(&self, shop_id: Id, viewer_agent_id: Id) -> Result<Vec<Script>>;
    /// Any script of the shop (the caller checks who may see a personal one).
    async fn script(&self, shop_id: Id, id: Id) -> Result<Option<Script>>;
    /// `not_found` for an unknown category; `conflict` for a shortcut already used in the scope.
    async fn create_script(
        &self,
        shop_id: Id,
        owner_id: Option<Id>,
        script: &NewScript,
    ) -> Result<Script>;
    async fn update_script(&self, shop_id: Id, id: Id, script: &NewScript) -> Result<Script>;
    /// Deletes the script and its use records.
    async fn delete_script(&self, shop_id: Id, id: Id) -> Result<()>;
    /// Imports validated records into one scope (shop-wide or `owner_id`'s) in one transaction,
    /// creating missing categories. Rows that fail (e.g. an `id` of another scope) are reported
    /// and skipped; the others are stored.
    async fn import_scripts(
        &self,
        shop_id: Id,
        owner_id: Option<Id>,
        rows: Vec<ImportRow>,
    ) -> Result<ImportReport>;

    /// Records that `agent_id` sent `script_id` in a conversation; `not_found` for a script or
    /// conversation of another shop.
    async fn record_script_use(
        &self,
        shop_id: Id,
        script_id: Id,
        agent_id: Id,
        conversation_id: Id,
        message_id: Option<Id>,
    ) -> Result<()>;
    /// Usage of every used script of the shop since `since` (orders counted within
    /// [`ORDER_WINDOW_MS`] after a use).
    async fn script_stats(&self, shop_id: Id, since: Millis) -> Result<Vec<ScriptStats>>;
    /// The variable context of a conversation: its customer, the shop, and an order and product —
    /// the ones named, else the customer's most recent order and its first product. `None` when the
    /// conversation is not the shop's; `not_found` for a named order or product that is not the
    /// shop's (or an order of another customer).
    async fn script_context(
        &self,
        shop_id: Id,
        conversation_id: Id,
        order_id: Option<Id>,
        product_id: Option<Id>,
    ) -> Result<Option<RenderContext>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RenderContext {
        RenderContext {
            customer_name: Some("李女士".into()),
            agent_name: Some("小美".into()),
            shop_name: Some("好物小店".into()),
            order: Some(OrderVars {
                id: 1,
                order_no: "A1001".into(),
                total_cents: 1234,
                shipping_fee_cents: 0,
                currency: "CNY".into(),
                status: "created".into(),
                payment_status: "unpaid".into(),
            }),
            product: Some(ProductVars {
                id: 2,
                name: "降噪耳机".into(),
                price_cents: 19900,
                currency: "CNY".into(),
            }),
        }
    }

    #[test]
    fn renders_every_variable() {
        let r = render(
            "{customer.name}您好，我是{agent.name}，{shop.name}：订单{order.no} {order.amount}，运费{order.shipping_fee}，{order.status}；{product.name} {product.price}",
            &ctx(),
        );
        assert_eq!(
            r.text,
            "李女士您好，我是小美，好物小店：订单A1001 ¥12.34，运费包邮，待付款；降噪耳机 ¥199.00"
        );
        assert!(r.missing.is_empty());
    }

    #[test]
    fn missing_values_stay_and_are_listed_once() {
        let c = RenderContext {
            customer_name: Some("  ".into()),
            ..Default::default()
        };
        let r = render(
            "{customer.name}，订单{order.no}，再说一次{customer.name}",
            &c,
        );
        assert_eq!(
            r.text,
            "{customer.name}，订单{order.no}，再说一次{customer.name}"
        );
        assert_eq!(r.missing, vec!["customer.name", "order.no"]);
        assert_eq!(unfilled_variables(&r.text), r.missing);
    }

    #[test]
    fn unknown_braces_pass_through_and_values_are_not_reexpanded() {
        let c = RenderContext {
            customer_name: Some("{order.no}".into()),
            ..Default::default()
        };
        let r = render("{x} {customer.name} {unbalanced {customer.name", &c);
        assert_eq!(r.text, "{x} {order.no} {unbalanced {customer.name");
        assert!(r.missing.is_empty());
        assert!(unfilled_variables("{x} { customer.name }").is_empty());
    }

    #[test]
    fn money_formats() {
        assert_eq!(money(1234, "CNY"), "¥12.34");
        assert_eq!(money(5, "USD"), "0.05 USD");
        let mut c = ctx();
        c.order.as_mut().unwrap().shipping_fee_cents = 800;
        assert_eq!(c.value("order.shipping_fee").as_deref(), Some("¥8.00"));
    }

    #[test]
    fn validation_limits() {
        let base = || NewScript {
            category_id: 1,
            title: " 标题 ".into(),
            body: "内容".into(),
            shortcut: Some(" TK-1 ".into()),
            tags: vec!["a".into(), " a ".into(), "".into()],
        };
        let mut s = base();
        s.validate().unwrap();
        assert_eq!(s.title, "标题");
        assert_eq!(s.shortcut.as_deref(), Some("tk-1"));
        assert_eq!(s.tags, vec!["a"]);
        let mut s = base();
        s.title = "字".repeat(101);
        assert!(s.validate().is_err());
        let mut s = base();
        s.body = "字".repeat(2001);
        assert!(s.validate().is_err());
        let mut s = base();
        s.shortcut = Some("退款".into());
        assert!(s.validate().is_err());
        let mut s = base();
        s.shortcut = Some("a".repeat(33));
        assert!(s.validate().is_err());
        let mut s = base();
        s.tags = (0..11).map(|i| format!("t{i}")).collect();
        assert!(s.validate().is_err());
        let mut s = base();
        s.shortcut = Some("".into());
        s.validate().unwrap();
        assert_eq!(s.shortcut, None);
    }

    #[test]
    fn default_library_is_complete_and_valid() {
        let lib = default_library();
        let names: Vec<&str> = lib.iter().map(|c| c.name.as_str()).collect();
        for want in [
            "欢迎语",
            "售前咨询",
            "价格解释",
            "运费解释",
            "质量保证",
            "色差说明",
            "议价应对",
            "拒绝购买",
            "催付款",
            "售后处理",
            "结束语",
            "异议处理",
        ] {
            assert!(names.contains(&want), "missing category {want}");
        }
        let total: usize = lib.iter().map(|c| c.scripts.len()).sum();
        assert!(total >= 60, "only {total} scripts");
        let mut shortcuts = std::collections::HashSet::new();
        for c in &lib {
            assert!(c.scripts.len() >= 3, "{} has too few variants", c.name);
            for s in &c.scripts {
                let mut n = NewScript {
                    category_id: 1,
                    title: s.title.clone(),
                    body: s.body.clone(),
                    shortcut: s.shortcut.clone(),
                    tags: s.tags.clone(),
                };
                n.validate().unwrap_or_else(|e| panic!("{}: {e}", s.title));
                if let Some(sc) = &n.shortcut {
                    assert!(shortcuts.insert(sc.clone()), "duplicate shortcut {sc}");
                }
                // Only known variables: an unknown one would be sent as literal braces.
                let mut rest = s.body.as_str();
                while let Some(i) = rest.find('{') {
                    let close = rest[i..].find('}').expect("balanced braces") + i;
                    assert!(is_known_variable(&rest[i + 1..close]), "{}", s.title);
                    rest = &rest[close + 1..];
                }
            }
        }
        let bargaining = lib.iter().find(|c| c.name == "议价应对").unwrap();
        assert!(bargaining.scripts.len() >= 4);
        let objections = lib.iter().find(|c| c.name == "异议处理").unwrap();
        for phrase in ["太贵了", "便宜点", "别的地方", "考虑"] {
            assert!(
                objections.scripts.iter().any(|s| s.title.contains(phrase)),
                "no objection script for {phrase}"
            );
        }
    }

    #[test]
    fn csv_round_trip_with_guard_and_bad_rows() {
        let s = Script {
            id: 7,
            shop_id: 1,
            owner_id: None,
            category_id: 1,
            category: "售后处理".into(),
            title: "退款, \"快\"".into(),
            body: "-先别急\n我们马上处理".into(),
            shortcut: Some("tk".into()),
            tags: vec!["退款".into(), "售后".into()],
            created_at: Millis(0),
            updated_at: Millis(0),
        };
        let csv = export_csv(std::slice::from_ref(&s));
        let rows = parse_import_csv(format!("{csv}x,售后处理,t,b,,\n,售后处理,,b,,\n").as_bytes())
            .unwrap();
        assert_eq!(rows.len(), 3);
        let r = rows[0].1.as_ref().unwrap();
        assert_eq!(r.id, Some(7));
        assert_eq!(r.title, s.title);
        assert_eq!(r.body, s.body);
        assert_eq!(r.tags, s.tags);
        assert_eq!(r.shortcut.as_deref(), Some("tk"));
        // The body spans two lines: the bad rows are on lines 4 and 5.
        assert_eq!(rows[1].0, 4);
        assert!(rows[1].1.is_err());
        assert_eq!(rows[2].0, 5);
        assert!(rows[2].1.is_err());
    }

    #[test]
    fn json_import_shapes() {
        let rows = parse_import_json(
            r#"{"scripts":[{"category":"欢迎语","title":"a","body":"b"},{"category":"","title":"a","body":"b"},{"title":1}]}"#,
        )
        .unwrap();
        assert!(rows[0].1.is_ok());
        assert!(rows[1].1.is_err());
        assert!(rows[2].1.is_err());
        assert_eq!(rows[2].0, 3);
        assert!(parse_import_json("42").is_err());
        assert!(parse_import_json("{").is_err());
    }
}
