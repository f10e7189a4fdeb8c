//! Import of orders from a CSV or XLSX file: one row per order line, the order number repeated on
//! every line of an order. The file is read by [`crate::tabular`] (encodings, Excel's forms,
//! the file's own line numbers, Chinese headers). Parsing is streaming: [`OrderCsvReader`] hands
//! out chunks of whole orders, and [`import_orders`] stores each chunk as one write job while the
//! next one is parsed.
//!
//! Rules: the rows of one order are consecutive; order-level columns may be left empty on the
//! order's later rows but must not contradict the first; an order with any bad row is rejected
//! whole (every bad row is reported with its line number, field, reason code and message); good
//! orders are kept. Amounts are yuan with at most two decimals (`199.00`, `1,329.00`, `¥1,329`),
//! converted to cents exactly; times without an offset are the shop's local time.

use super::{
    BuyerInput, CommerceChange, CommerceStore, IMPORT_CHUNK_ORDERS, OrderDoc, OrderInput,
    OrderItemInput, ShipmentInput, TimeInput, UpsertStatus, validate_order,
};
use crate::model::Id;
use crate::tabular::{self, Column, Reason, Table};
use crate::{Error, Result};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use utoipa::ToSchema;

const fn col(name: &'static str, required: bool, aliases: &'static [&'static str]) -> Column {
    Column {
        name,
        aliases,
        required,
    }
}

/// The columns in the documented order, with the names Chinese files (Excel, Taobao and JD
/// exports) give them. `unit_price` may be left out when `line_total` is there.
pub const ORDER_COLUMNS_SPEC: &[Column] = &[
    col(
        "order_no",
        true,
        &["订单号", "订单编号", "主订单编号", "订单id", "外部订单号"],
    ),
    col(
        "placed_at",
        true,
        &[
            "下单时间",
            "订单创建时间",
            "创建时间",
            "订单时间",
            "成交时间",
        ],
    ),
    col(
        "buyer_external_id",
        false,
        &[
            "买家编号",
            "买家id",
            "买家会员名",
            "会员名",
            "买家账号",
            "用户id",
            "客户编号",
        ],
    ),
    col(
        "buyer_name",
        false,
        &[
            "买家昵称",
            "买家姓名",
            "买家",
            "客户姓名",
            "客户名称",
            "昵称",
        ],
    ),
    col(
        "buyer_phone",
        false,
        &[
            "手机号",
            "买家手机号",
            "买家手机",
            "手机",
            "手机号码",
            "买家电话",
        ],
    ),
    col(
        "buyer_email",
        false,
        &["邮箱", "买家邮箱", "电子邮箱", "email"],
    ),
    col(
        "sku",
        true,
        &[
            "商品编码",
            "商家编码",
            "商品id",
            "货号",
            "商品编号",
            "规格编码",
            "sku编码",
        ],
    ),
    col(
        "item_name",
        false,
        &["商品", "商品名称", "宝贝标题", "商品标题", "宝贝名称"],
    ),
    col(
        "quantity",
        true,
        &["数量", "购买数量", "订购数量", "商品数量", "宝贝数量"],
    ),
    col(
        "unit_price",
        false,
        &["单价", "商品单价", "价格", "京东价", "销售价", "商品价格"],
    ),
    col(
        "line_total",
        false,
        &[
            "金额",
            "实付金额",
            "小计",
            "商品小计",
            "商品金额",
            "成交金额",
            "应付金额",
        ],
    ),
    col(
        "discount",
        false,
        &["优惠", "优惠金额", "折扣", "店铺优惠", "优惠券"],
    ),
    col(
        "shipping_fee",
        false,
        &["运费", "邮费", "运费金额", "快递费"],
    ),
    col("currency", false, &["币种", "货币"]),
    col("payment_status", false, &["付款状态", "支付状态"]),
    col(
        "paid_at",
        false,
        &["付款时间", "支付时间", "订单付款时间", "付款确认时间"],
    ),
    col("order_status", false, &["状态", "订单状态", "交易状态"]),
    col("shipped_at", false, &["发货时间"]),
    col(
        "delivered_at",
        false,
        &["签收时间", "收货时间", "确认收货时间"],
    ),
    col(
        "carrier",
        false,
        &["快递公司", "物流公司", "承运商", "快递"],
    ),
    col("tracking_no", false, &["运单号", "快递单号", "物流单号"]),
    col("shipment_status", false, &["物流状态", "快递状态"]),
    col("receiver_name", false, &["收货人", "收货人姓名", "收件人"]),
    col(
        "receiver_phone",
        false,
        &[
            "收货人电话",
            "收货人手机",
            "联系电话",
            "收件人电话",
            "联系手机",
        ],
    ),
    col(
        "receiver_address",
        false,
        &["收货地址", "地址", "收件地址", "详细地址"],
    ),
];

/// The columns, in the documented order. `*` marks required ones (see docs/API.md).
pub const COLUMNS: &[&str] = &[
    "order_no*",
    "placed_at*",
    "buyer_external_id",
    "buyer_name",
    "buyer_phone",
    "buyer_email",
    "sku*",
    "item_name",
    "quantity*",
    "unit_price*",
    "line_total",
    "discount",
    "shipping_fee",
    "currency",
    "payment_status",
    "paid_at",
    "order_status",
    "shipped_at",
    "delivered_at",
    "carrier",
    "tracking_no",
    "shipment_status",
    "receiver_name",
    "receiver_phone",
    "receiver_address",
];

/// The template's Chinese headers (one per column of [`ORDER_COLUMNS_SPEC`], its first alias).
pub fn template_headers() -> Vec<&'static str> {
    ORDER_COLUMNS_SPEC.iter().map(|c| c.aliases[0]).collect()
}

/// The template's example rows: one order of two lines, in the forms Excel writes.
pub const TEMPLATE_EXAMPLES: &[&[&str]] = &[
    &[
        "E2026120600001",
        "2026/12/6 16:00",
        "buyer-001",
        "小王",
        "13800138000",
        "",
        "EAR-1",
        "蓝牙耳机",
        "1",
        "1,329.00",
        "",
        "10",
        "0",
        "CNY",
        "已付款",
        "2026/12/6 16:05",
        "已发货",
        "2026/12/7 09:30",
        "",
        "顺丰速运",
        "SF1234567890",
        "运输中",
        "王小明",
        "13800138000",
        "上海市浦东新区世纪大道 100 号",
    ],
    &[
        "E2026120600001",
        "",
        "",
        "",
        "",
        "",
        "CAB-1",
        "数据线",
        "2",
        "29.90",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
];

/// Order-level columns: they must agree across the rows of one order.
const ORDER_COLUMNS: &[&str] = &[
    "placed_at",
    "buyer_external_id",
    "buyer_name",
    "buyer_phone",
    "buyer_email",
    "discount",
    "shipping_fee",
    "currency",
    "payment_status",
    "paid_at",
    "order_status",
    "shipped_at",
    "delivered_at",
    "carrier",
    "tracking_no",
    "shipment_status",
    "receiver_name",
    "receiver_phone",
    "receiver_address",
];

/// Order statuses as Chinese shops and Taobao/JD exports write them.
fn order_status_value(v: &str) -> &str {
    match v {
        "待付款" | "未付款" | "等待买家付款" | "已下单" | "待支付" => "created",
        "已付款" | "已支付" | "买家已付款" | "待发货" | "等待卖家发货" | "等待出库" => {
            "paid"
        }
        "已发货" | "卖家已发货" | "待收货" | "等待买家确认收货" | "等待确认收货" | "运输中" => {
            "shipped"
        }
        "已签收" | "已收货" => "delivered",
        "已完成" | "交易成功" | "完成" | "交易完成" => "completed",
        "已关闭" | "交易关闭" | "已取消" | "取消" | "订单取消" => "cancelled",
        other => other,
    }
}

fn payment_status_value(v: &str) -> &str {
    match v {
        "未付款" | "待付款" | "未支付" => "unpaid",
        "已付款" | "已支付" => "paid",
        "部分退款" => "partially_refunded",
        "已退款" | "全额退款" | "退款成功" => "refunded",
        other => other,
    }
}

fn shipment_status_value(v: &str) -> &str {
    match v {
        "待发货" | "待揽收" | "已揽收" => "pending",
        "运输中" | "在途" | "已发货" => "in_transit",
        "派送中" | "派件中" => "out_for_delivery",
        "已签收" | "已送达" => "delivered",
        "异常" | "物流异常" | "问题件" => "exception",
        "已退回" | "退回" => "returned",
        other => other,
    }
}

/// A rejected row.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct BadLine {
    /// 1-based line number in the file (the header is line 1; a record spanning lines has the
    /// line it starts on).
    pub line: u64,
    pub order_no: String,
    /// The column at fault, by its English name (`-` when the row as a whole is at fault).
    pub field: String,
    /// That column's header as the file has it (`实付金额`), when the file has the column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Why, as a stable code the console translates (`required`, `bad_amount`, `bad_time`, …;
    /// see docs/API.md).
    pub code: String,
    /// The other line a `differs` reason compares with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_line: Option<u64>,
    /// The other field a `required_with` reason depends on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_field: Option<String>,
    /// The reason in English (for logs, the CLI and English readers).
    pub message: String,
}

impl BadLine {
    fn new(
        line: u64,
        order_no: &str,
        field: &str,
        code: Reason,
        message: impl Into<String>,
    ) -> Self {
        Self {
            line,
            order_no: order_no.to_owned(),
            field: field.to_owned(),
            column: None,
            code: code.as_str().to_owned(),
            other_line: None,
            other_field: None,
            message: message.into(),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ImportReport {
    pub rows: u64,
    pub orders: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Orders rejected (a bad row, or refused by the store).
    pub rejected: usize,
    /// Every bad row, in file order (at most [`MAX_REPORTED_LINES`]).
    pub bad_lines: Vec<BadLine>,
    /// Bad rows beyond those listed.
    pub bad_lines_omitted: usize,
    /// Customers whose orders changed (segments recompute them).
    pub touched_customer_ids: Vec<Id>,
}

/// The most bad rows listed in a report (the rest are counted).
pub const MAX_REPORTED_LINES: usize = 1000;

impl ImportReport {
    fn bad(&mut self, b: BadLine) {
        if self.bad_lines.len() < MAX_REPORTED_LINES {
            self.bad_lines.push(b);
        } else {
            self.bad_lines_omitted += 1;
        }
    }
}

/// A parsed chunk: whole orders (keyed by their first line) and the bad rows found.
#[derive(Debug, Default)]
pub struct Chunk {
    pub orders: Vec<(usize, OrderDoc)>,
    pub bad: Vec<BadLine>,
    /// Orders rejected for a bad row.
    pub rejected: usize,
    pub rows: u64,
}

struct Row {
    line: u64,
    cells: csv::StringRecord,
}

/// Reads an order file (CSV in any accepted encoding, or XLSX) in chunks of whole orders.
pub struct OrderCsvReader<R: Read> {
    table: Table<R>,
    col: HashMap<&'static str, usize>,
    /// The shop's time zone: times without an offset are its wall-clock times.
    zone: String,
    /// The rows of the order being collected.
    pending: Vec<Row>,
    seen: HashSet<String>,
    done: bool,
}

impl<R: Read> OrderCsvReader<R> {
    /// Reads the header; `validation_failed` naming the missing columns if any required one is
    /// absent, or on field `file` when the file cannot be read at all. `zone` is the shop's time
    /// zone (`Asia/Shanghai`).
    pub fn new(input: R, zone: &str) -> Result<Self> {
        let table = Table::open(input)?;
        let col = match tabular::resolve_headers(table.headers(), ORDER_COLUMNS_SPEC) {
            Ok(c) if !c.contains_key("unit_price") && !c.contains_key("line_total") => {
                return Err(Error::validation(
                    "header: missing required columns: unit_price",
                ));
            }
            other => other?,
        };
        Ok(Self {
            table,
            col,
            zone: zone.to_owned(),
            pending: Vec::new(),
            seen: HashSet::new(),
            done: false,
        })
    }

    fn cell<'a>(&self, row: &'a Row, name: &str) -> &'a str {
        self.col
            .get(name)
            .and_then(|&i| row.cells.get(i))
            .unwrap_or("")
    }

    /// The next chunk of up to `max_orders` orders; `None` at the end.
    pub fn next_chunk(&mut self, max_orders: usize) -> Option<Chunk> {
        if self.done && self.pending.is_empty() {
            return None;
        }
        let mut chunk = Chunk::default();
        while chunk.orders.len() + chunk.rejected < max_orders {
            match self.table.next_record() {
                None => {
                    self.done = true;
                    self.flush(&mut chunk);
                    break;
                }
                Some(Err(e)) => {
                    chunk.rows += 1;
                    chunk.bad.push(BadLine::new(
                        e.line,
                        "",
                        "-",
                        Reason::UnreadableRow,
                        e.message,
                    ));
                }
                Some(Ok(rec)) if rec.cells.iter().any(|c| c.contains('\0')) => {
                    // PostgreSQL cannot store it and SQLite would keep it silently.
                    chunk.rows += 1;
                    chunk.bad.push(BadLine::new(
                        rec.line,
                        "",
                        "-",
                        Reason::NulCharacter,
                        "a cell contains the NUL character (U+0000)",
                    ));
                }
                Some(Ok(rec)) => {
                    chunk.rows += 1;
                    let row = Row {
                        line: rec.line,
                        cells: rec.cells,
                    };
                    let order_no = self.cell(&row, "order_no").to_owned();
                    let same = self
                        .pending
                        .first()
                        .is_some_and(|r| self.cell(r, "order_no") == order_no);
                    if !same {
                        self.flush(&mut chunk);
                    }
                    self.pending.push(row);
                }
            }
        }
        Some(chunk)
    }

    /// Turns the pending rows (one order) into an order or bad lines.
    fn flush(&mut self, chunk: &mut Chunk) {
        if self.pending.is_empty() {
            return;
        }
        let rows = std::mem::take(&mut self.pending);
        let first_line = rows[0].line;
        let order_no = self.cell(&rows[0], "order_no").to_owned();
        let mut bad = Vec::new();
        if order_no.is_empty() {
            for r in &rows {
                bad.push(BadLine::new(
                    r.line,
                    "",
                    "order_no",
                    Reason::Required,
                    "must not be empty",
                ));
            }
        } else if !self.seen.insert(order_no.clone()) {
            for r in &rows {
                bad.push(BadLine::new(
                    r.line,
                    &order_no,
                    "order_no",
                    Reason::NotConsecutive,
                    "the rows of one order must be consecutive (this order appeared earlier)",
                ));
            }
        } else {
            match self.build(&rows, &order_no) {
                Ok(doc) => {
                    chunk.orders.push((first_line as usize, doc));
                    return;
                }
                Err(lines) => bad = lines,
            }
        }
        // Any bad row rejects the whole order; its other rows say so, so no line goes unexplained.
        let bad_lines: HashSet<u64> = bad.iter().map(|b| b.line).collect();
        for r in &rows {
            if !bad_lines.contains(&r.line) {
                bad.push(BadLine::new(
                    r.line,
                    &order_no,
                    "-",
                    Reason::OrderRejected,
                    "order rejected because another of its rows is bad",
                ));
            }
        }
        bad.sort_by_key(|b| b.line);
        for b in &mut bad {
            b.column = self
                .col
                .get(b.field.as_str())
                .and_then(|&i| self.table.headers().get(i))
                .cloned();
        }
        chunk.bad.extend(bad);
        chunk.rejected += 1;
    }

    fn build(&self, rows: &[Row], order_no: &str) -> std::result::Result<OrderDoc, Vec<BadLine>> {
        let mut bad = Vec::new();
        let bad_line = |line: u64, field: &str, code: Reason, message: String| {
            BadLine::new(line, order_no, field, code, message)
        };
        // Order-level values: the first non-empty one; a different later one is an error.
        let mut order: HashMap<&str, (&str, u64)> = HashMap::new();
        for r in rows {
            for &c in ORDER_COLUMNS {
                let v = self.cell(r, c);
                if v.is_empty() {
                    continue;
                }
                match order.get(c) {
                    None => {
                        order.insert(c, (v, r.line));
                    }
                    Some((first, at)) if *first != v => bad.push(BadLine {
                        other_line: Some(*at),
                        ..bad_line(
                            r.line,
                            c,
                            Reason::Differs,
                            format!("differs from line {at} of the same order ('{first}')"),
                        )
                    }),
                    Some(_) => {}
                }
            }
        }
        let get = |c: &str| order.get(c).map(|(v, _)| v.to_string());
        let line_of = |c: &str| order.get(c).map_or(rows[0].line, |(_, l)| *l);
        let time = |c: &str, bad: &mut Vec<BadLine>| -> Option<TimeInput> {
            let (v, l) = order.get(c)?;
            match tabular::parse_local_time(v, &self.zone) {
                Ok(t) => Some(TimeInput::Millis(t.0)),
                Err(code) => {
                    bad.push(bad_line(
                        *l,
                        c,
                        code,
                        "must be a time like 2026/12/6 16:00 or 2026-12-06 16:00:00".into(),
                    ));
                    None
                }
            }
        };
        let amount_message = |code: Reason| match code {
            Reason::AmbiguousAmount => {
                "is ambiguous: write 1329.00 or 1,329.00 (commas only between thousands)"
            }
            Reason::TooLarge => "amount is too large",
            _ => "must be an amount like 1,329.00 or 199 (at most 2 decimals)",
        };
        let yuan = |c: &str, bad: &mut Vec<BadLine>| -> i64 {
            match order.get(c) {
                None => 0,
                Some((v, l)) => tabular::parse_amount(v).unwrap_or_else(|code| {
                    bad.push(bad_line(*l, c, code, amount_message(code).into()));
                    0
                }),
            }
        };
        let discount_cents = yuan("discount", &mut bad);
        let shipping_fee_cents = yuan("shipping_fee", &mut bad);
        let placed_at = match order.get("placed_at") {
            None => {
                bad.push(bad_line(
                    rows[0].line,
                    "placed_at",
                    Reason::Required,
                    "must not be empty".into(),
                ));
                None
            }
            Some(_) => time("placed_at", &mut bad),
        };
        let paid_at = time("paid_at", &mut bad);
        let shipped_at = time("shipped_at", &mut bad);
        let delivered_at = time("delivered_at", &mut bad);
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            let quantity = match tabular::parse_whole(self.cell(r, "quantity")) {
                Ok(q) => q,
                Err(_) => {
                    let empty = self.cell(r, "quantity").is_empty();
                    bad.push(bad_line(
                        r.line,
                        "quantity",
                        if empty {
                            Reason::Required
                        } else {
                            Reason::NotWholeNumber
                        },
                        if empty {
                            "must not be empty"
                        } else {
                            "must be a whole number"
                        }
                        .into(),
                    ));
                    continue;
                }
            };
            let total = match self.cell(r, "line_total") {
                "" => None,
                t => match tabular::parse_amount(t) {
                    Ok(c) => Some(c),
                    Err(code) => {
                        bad.push(bad_line(
                            r.line,
                            "line_total",
                            code,
                            amount_message(code).into(),
                        ));
                        continue;
                    }
                },
            };
            let unit = match (self.cell(r, "unit_price"), total) {
                // Only the line's amount: the unit price follows from it.
                ("", Some(t)) if quantity > 0 => t / quantity,
                ("", _) => {
                    bad.push(bad_line(
                        r.line,
                        "unit_price",
                        Reason::Required,
                        "must not be empty".into(),
                    ));
                    continue;
                }
                (u, _) => match tabular::parse_amount(u) {
                    Ok(c) => c,
                    Err(code) => {
                        bad.push(bad_line(
                            r.line,
                            "unit_price",
                            code,
                            amount_message(code).into(),
                        ));
                        continue;
                    }
                },
            };
            let name = self.cell(r, "item_name");
            items.push(OrderItemInput {
                sku: self.cell(r, "sku").to_owned(),
                name: (!name.is_empty()).then(|| name.to_owned()),
                quantity,
                unit_price_cents: unit,
                total_cents: total,
            });
        }
        if !bad.is_empty() {
            return Err(bad);
        }
        let required_with = |field: &str, other: &str| BadLine {
            other_field: Some(other.to_owned()),
            ..bad_line(
                line_of(other),
                field,
                Reason::RequiredWith,
                format!("required when {other} is given"),
            )
        };
        let shipments = match (get("carrier"), get("tracking_no")) {
            (Some(carrier), Some(tracking_no)) => vec![ShipmentInput {
                order_no: None,
                carrier,
                tracking_no,
                status: get("shipment_status").map(|v| shipment_status_value(&v).to_owned()),
                shipped_at: shipped_at.clone(),
                delivered_at: delivered_at.clone(),
                events: Vec::new(),
            }],
            (None, None) => Vec::new(),
            (Some(_), None) => return Err(vec![required_with("tracking_no", "carrier")]),
            (None, Some(_)) => return Err(vec![required_with("carrier", "tracking_no")]),
        };
        let input = OrderInput {
            order_no: order_no.to_owned(),
            customer_id: None,
            buyer: BuyerInput {
                external_id: get("buyer_external_id"),
                name: get("buyer_name"),
                phone: get("buyer_phone"),
                email: get("buyer_email"),
            },
            placed_at: placed_at.unwrap_or(TimeInput::Millis(0)),
            status: get("order_status").map(|v| order_status_value(&v).to_owned()),
            payment_status: get("payment_status").map(|v| payment_status_value(&v).to_owned()),
            currency: get("currency").map(|c| match c.as_str() {
                "人民币" | "元" | "RMB" | "rmb" => "CNY".to_owned(),
                _ => c,
            }),
            discount_cents,
            shipping_fee_cents,
            paid_at,
            shipped_at,
            delivered_at,
            receiver_name: get("receiver_name").unwrap_or_default(),
            receiver_phone: get("receiver_phone").unwrap_or_default(),
            receiver_address: get("receiver_address").unwrap_or_default(),
            items,
            shipments,
            refunds: Vec::new(),
        };
        validate_order("", &input)
            .map_err(|e| vec![csv_error(rows, &e.message, &line_of, order_no)])
    }
}

/// Maps a validation message of the order document (`items[1].quantity: …`, `buyer.phone: …`)
/// back to the file line and column it came from, with its reason code.
fn csv_error(
    rows: &[Row],
    message: &str,
    line_of: &dyn Fn(&str) -> u64,
    order_no: &str,
) -> BadLine {
    let (path, reason) = message.split_once(": ").unwrap_or(("-", message));
    let (line, field) = if let Some(rest) = path.strip_prefix("items[") {
        let (idx, sub) = rest
            .split_once("].")
            .unwrap_or((rest.trim_end_matches(']'), "sku"));
        let line = idx
            .parse::<usize>()
            .ok()
            .and_then(|i| rows.get(i))
            .map_or(rows[0].line, |r| r.line);
        let field = match sub {
            "unit_price_cents" => "unit_price",
            "total_cents" => "line_total",
            "name" => "item_name",
            other => other,
        };
        (line, field.to_owned())
    } else if let Some(rest) = path.strip_prefix("shipments[0].") {
        let field = match rest {
            "status" => "shipment_status",
            other => other,
        };
        (line_of(field), field.to_owned())
    } else {
        let field = match path {
            "buyer.external_id" => "buyer_external_id",
            "buyer.name" => "buyer_name",
            "buyer.phone" => "buyer_phone",
            "buyer.email" => "buyer_email",
            "buyer" => "buyer_external_id",
            "status" => "order_status",
            "discount_cents" => "discount",
            "shipping_fee_cents" => "shipping_fee",
            "items" => "sku",
            other => other,
        };
        (line_of(field), field.to_owned())
    };
    if path == "buyer" {
        return BadLine::new(
            line,
            order_no,
            &field,
            Reason::BuyerRequired,
            "needs one of buyer_external_id, buyer_phone, buyer_email",
        );
    }
    let mut b = BadLine::new(line, order_no, &field, Reason::of_message(reason), reason);
    if b.code == Reason::RequiredWith.as_str() {
        // `required when payment_status is not unpaid`
        b.other_field = reason
            .strip_prefix("required when ")
            .and_then(|r| r.split_whitespace().next())
            .map(str::to_owned);
    }
    b
}

/// Imports an order file (CSV or XLSX) into the shop: parses on a blocking thread while the
/// previous chunk is stored, [`IMPORT_CHUNK_ORDERS`] orders per write job. Only an unreadable file
/// or a bad header fails the import as a whole; everything else is reported per line. `zone` is
/// the shop's time zone, in which times without an offset are read.
pub async fn import_orders<R: Read + Send + 'static>(
    store: &dyn CommerceStore,
    shop_id: Id,
    zone: &str,
    input: R,
) -> Result<ImportReport> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Chunk>>(2);
    let zone = zone.to_owned();
    let parser = tokio::task::spawn_blocking(move || {
        let mut reader = match OrderCsvReader::new(input, &zone) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        while let Some(chunk) = reader.next_chunk(IMPORT_CHUNK_ORDERS) {
            if tx.blocking_send(Ok(chunk)).is_err() {
                return;
            }
        }
    });
    let mut report = ImportReport::default();
    // Touched customers across chunks: a set (a million orders touch up to 200,000 customers).
    let mut touched: HashSet<Id> = HashSet::new();
    let mut bulk = false;
    let stored = store_chunks(
        store,
        shop_id,
        &mut rx,
        &mut report,
        &mut touched,
        &mut bulk,
    )
    .await;
    // Whatever the store prepared for a large import is undone even when a chunk failed, so a
    // failed import leaves the database as fast as it found it.
    let ended = if bulk {
        store.end_bulk_import().await
    } else {
        Ok(())
    };
    stored?;
    ended?;
    parser.await.map_err(Error::internal)?;
    report.bad_lines.sort_by_key(|b| b.line);
    report.touched_customer_ids = touched.into_iter().collect();
    report.touched_customer_ids.sort_unstable();
    Ok(report)
}

/// Stores the parsed chunks as they come, adding their outcome to `report` and `touched`. A
/// first chunk that is full means a large import: the store is told before it is stored
/// (`bulk` says so, for the caller to end it).
async fn store_chunks(
    store: &dyn CommerceStore,
    shop_id: Id,
    rx: &mut tokio::sync::mpsc::Receiver<Result<Chunk>>,
    report: &mut ImportReport,
    touched: &mut HashSet<Id>,
    bulk: &mut bool,
) -> Result<()> {
    let mut first = true;
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk?;
        if std::mem::take(&mut first) && chunk.orders.len() + chunk.rejected >= IMPORT_CHUNK_ORDERS
        {
            *bulk = true; // ended even if beginning fails half-way
            store.begin_bulk_import().await?;
        }
        report.rows += chunk.rows;
        report.orders += chunk.orders.len() + chunk.rejected;
        report.rejected += chunk.rejected;
        for b in chunk.bad {
            report.bad(b);
        }
        if chunk.orders.is_empty() {
            continue;
        }
        let keys: HashMap<usize, String> = chunk
            .orders
            .iter()
            .map(|(i, o)| (*i, o.order_no.clone()))
            .collect();
        let out = store
            .apply_commerce(shop_id, CommerceChange::Orders(chunk.orders), None)
            .await?;
        for item in &out.items {
            if item.status == UpsertStatus::Failed {
                let (field, message) = item
                    .error
                    .as_ref()
                    .map(|e| {
                        let (f, m) = e.message.split_once(": ").unwrap_or(("-", &e.message));
                        (f.to_owned(), m.to_owned())
                    })
                    .unwrap_or_default();
                let order_no = keys.get(&item.index).cloned().unwrap_or_default();
                let code = Reason::of_message(&message);
                report.bad(BadLine::new(
                    item.index as u64,
                    &order_no,
                    &field,
                    code,
                    message,
                ));
            }
        }
        report.created += out.created;
        report.updated += out.updated;
        report.unchanged += out.unchanged;
        report.rejected += out.failed;
        touched.extend(out.touched_customer_ids);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "order_no,placed_at,buyer_external_id,buyer_name,buyer_phone,sku,item_name,quantity,unit_price,discount,shipping_fee,paid_at,carrier,tracking_no\n";

    fn read(body: &str) -> Chunk {
        let mut r = OrderCsvReader::new(
            std::io::Cursor::new(format!("{HEADER}{body}").into_bytes()),
            "Asia/Shanghai",
        )
        .unwrap();
        let mut all = Chunk::default();
        while let Some(c) = r.next_chunk(2) {
            all.orders.extend(c.orders);
            all.bad.extend(c.bad);
            all.rejected += c.rejected;
            all.rows += c.rows;
        }
        all
    }

    #[test]
    fn groups_lines_and_converts_yuan() {
        let c = read(
            "A1,2026-11-20 10:00,u1,张三,13800138000,EAR-1,耳机,2,199.00,10,8.5,2026-11-20 10:05,顺丰,SF1\n\
             A1,,,,,CAB-1,数据线,1,29.9,,,,,\n\
             A2,2026-11-21 09:00,,李四,13900139000,PB-1,充电宝,1,99,,,,,\n",
        );
        assert!(c.bad.is_empty(), "{:?}", c.bad);
        assert_eq!(c.orders.len(), 2);
        let (line, a1) = &c.orders[0];
        assert_eq!(*line, 2);
        assert_eq!(a1.items.len(), 2);
        assert_eq!(a1.items_cents, 2 * 19900 + 2990);
        assert_eq!(a1.total_cents, 2 * 19900 + 2990 - 1000 + 850);
        assert_eq!(a1.shipments[0].tracking_no, "SF1");
        assert_eq!(c.orders[1].0, 4);
    }

    #[test]
    fn a_bad_row_rejects_its_order_with_line_numbers() {
        let c = read(
            "A1,2026-11-20 10:00,u1,张三,,EAR-1,耳机,2,199.00,,,,,\n\
             A1,,,,,CAB-1,数据线,0,29.9,,,,,\n\
             A2,2026-11-21 09:00,u2,李四,,PB-1,充电宝,1,9.999,,,,,\n\
             A3,2026-11-21 09:00,u3,王五,,PB-1,充电宝,1,99,,,,,\n\
             A4,2026-11-21 09:00,u4,,,PB-1,,1,99,,,,顺丰,\n\
             A5,someday,u5,,,PB-1,,1,99,,,,,\n\
             A3,2026-11-21 09:00,u3,王五,,PB-1,充电宝,1,99,,,,,\n",
        );
        assert_eq!(c.orders.len(), 1);
        assert_eq!(c.orders[0].1.order_no, "A3");
        let find = |line: u64| c.bad.iter().find(|b| b.line == line).unwrap();
        assert_eq!(find(3).field, "quantity");
        assert_eq!(find(3).message, "must be at least 1");
        assert!(find(2).message.contains("rejected"));
        assert_eq!(find(4).field, "unit_price");
        assert_eq!(find(6).field, "tracking_no");
        assert_eq!(find(7).field, "placed_at");
        assert!(find(8).message.contains("consecutive"));
        assert_eq!(c.rejected, 5);
    }

    #[test]
    fn missing_columns_fail_the_header() {
        let e = OrderCsvReader::new("order_no,sku\n".as_bytes(), "Asia/Shanghai")
            .err()
            .unwrap();
        assert!(e.message.contains("placed_at") && e.message.contains("quantity"));
        assert_eq!(e.field.as_deref(), Some("header"));
        // Chinese headers name the same columns; only the unit price (or amount) is missing.
        let e = OrderCsvReader::new(
            "订单号,下单时间,商品编码,数量\n".as_bytes(),
            "Asia/Shanghai",
        )
        .err()
        .unwrap();
        assert_eq!(e.message, "header: missing required columns: unit_price");
    }

    fn read_all(bytes: Vec<u8>) -> Chunk {
        let mut r = OrderCsvReader::new(std::io::Cursor::new(bytes), "Asia/Shanghai").unwrap();
        let mut all = Chunk::default();
        while let Some(c) = r.next_chunk(100) {
            all.orders.extend(c.orders);
            all.bad.extend(c.bad);
            all.rejected += c.rejected;
            all.rows += c.rows;
        }
        all
    }

    #[test]
    fn reads_a_chinese_excel_csv_in_gbk_with_crlf() {
        let text = "订单号,下单时间,买家昵称,手机号,商品编码,商品名称,数量,实付金额,状态,快递公司,运单号,备注\r\n\
                    T1,2026/12/6 16:00,小王,13800138000,EAR-1,\"耳机\r\n（白色）\",1,\"1,329.00\",已发货,顺丰,SF100,送人\r\n\
                    T2,2026年12月6日 16:05,小李,13900139000,CAB-1,数据线,两个,29.90,已付款,,,\r\n\
                    T3,2026-12-06,小张,13700137000,CAB-1,数据线,1,\"1,32\",已付款,,,\r\n";
        let (gbk, _, bad) = encoding_rs::GBK.encode(text);
        assert!(!bad);
        let c = read_all(gbk.into_owned());
        assert_eq!(c.orders.len(), 1, "{:?}", c.bad);
        let (line, t1) = &c.orders[0];
        assert_eq!(*line, 2);
        assert_eq!(t1.items[0].name, "耳机\r\n（白色）");
        assert_eq!(t1.total_cents, 132_900);
        // 16:00 in Shanghai is 08:00 UTC.
        assert_eq!(t1.placed_at.0, 1_796_515_200_000 + 8 * 3_600_000);
        assert_eq!(t1.status.as_str(), "shipped");
        // The quoted cell spans lines 2–3, so T2 is on line 4 and T3 on line 5.
        let t2 = c.bad.iter().find(|b| b.order_no == "T2").unwrap();
        assert_eq!(
            (t2.line, t2.field.as_str(), t2.code.as_str()),
            (4, "quantity", "not_whole_number")
        );
        let t3 = c.bad.iter().find(|b| b.order_no == "T3").unwrap();
        assert_eq!(
            (t3.line, t3.field.as_str(), t3.code.as_str()),
            (5, "line_total", "ambiguous_amount")
        );
    }

    #[test]
    fn reads_an_xlsx_with_dates_and_numbers() {
        use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
        let mut book = Workbook::new();
        let ws = book.add_worksheet();
        for (c, h) in [
            "订单号",
            "下单时间",
            "买家编号",
            "商品编码",
            "数量",
            "单价",
            "运费",
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        let date = Format::new().set_num_format("yyyy/m/d hh:mm");
        ws.write_string(1, 0, "X1").unwrap();
        let at = ExcelDateTime::parse_from_str("2026-12-06 16:00:00").unwrap();
        ws.write_datetime_with_format(1, 1, &at, &date).unwrap();
        ws.write_string(1, 2, "u1").unwrap();
        ws.write_string(1, 3, "EAR-1").unwrap();
        ws.write_number(1, 4, 2).unwrap();
        ws.write_number(1, 5, 1329.5).unwrap();
        ws.write_number(1, 6, 0.1 + 0.2).unwrap();
        ws.write_string(2, 0, "X2").unwrap();
        ws.write_string(2, 1, "someday").unwrap();
        ws.write_string(2, 2, "u2").unwrap();
        ws.write_string(2, 3, "EAR-1").unwrap();
        ws.write_number(2, 4, 1).unwrap();
        ws.write_number(2, 5, 1).unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let c = read_all(bytes);
        assert_eq!(c.orders.len(), 1, "{:?}", c.bad);
        let x1 = &c.orders[0].1;
        assert_eq!(x1.placed_at.0, 1_796_515_200_000 + 8 * 3_600_000);
        assert_eq!(x1.items[0].quantity, 2);
        assert_eq!(x1.items_cents, 2 * 132_950);
        assert_eq!(x1.shipping_fee_cents, 30);
        assert_eq!(c.bad[0].line, 3);
        assert_eq!(c.bad[0].code, "bad_time");
    }
}
