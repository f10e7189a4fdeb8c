//! CSV import of orders: one row per order line, the order number repeated on every line of an
//! order. Parsing is streaming: [`OrderCsvReader`] hands out chunks of whole orders, and
//! [`import_orders`] stores each chunk as one write job while the next one is parsed.
//!
//! Rules: the rows of one order are consecutive; order-level columns may be left empty on the
//! order's later rows but must not contradict the first; an order with any bad row is rejected
//! whole (every bad row is reported with its line number, field and reason); good orders are kept.
//! Amounts are yuan with at most two decimals (`199.00`), converted to cents exactly.

use super::money::parse_yuan;
use super::{
    BuyerInput, CommerceChange, CommerceStore, IMPORT_CHUNK_ORDERS, OrderDoc, OrderInput,
    OrderItemInput, ShipmentInput, TimeInput, UpsertStatus, validate_order,
};
use crate::model::Id;
use crate::{Error, Result};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use utoipa::ToSchema;

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

/// A rejected row.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct BadLine {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    pub order_no: String,
    /// The column at fault (`-` when the row as a whole is at fault).
    pub field: String,
    pub message: String,
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

/// Reads an order CSV in chunks of whole orders.
pub struct OrderCsvReader<R: Read> {
    records: csv::StringRecordsIntoIter<R>,
    col: HashMap<&'static str, usize>,
    /// The rows of the order being collected.
    pending: Vec<Row>,
    seen: HashSet<String>,
    done: bool,
}

fn column_name(c: &'static str) -> &'static str {
    c.trim_end_matches('*')
}

impl<R: Read> OrderCsvReader<R> {
    /// Reads the header; `validation_failed` naming the missing columns if any required one is absent.
    pub fn new(input: R) -> Result<Self> {
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(input);
        let header = rdr
            .headers()
            .map_err(|e| Error::validation(format!("header: {e}")))?
            .clone();
        let mut col = HashMap::new();
        for (i, h) in header.iter().enumerate() {
            let h = h.trim_start_matches('\u{feff}').trim().to_ascii_lowercase();
            if let Some(c) = COLUMNS.iter().map(|c| column_name(c)).find(|c| *c == h) {
                col.insert(c, i);
            }
        }
        let missing: Vec<&str> = COLUMNS
            .iter()
            .filter(|c| c.ends_with('*'))
            .map(|c| column_name(c))
            .filter(|c| !col.contains_key(c))
            .collect();
        if !missing.is_empty() {
            return Err(Error::validation(format!(
                "header: missing required columns: {}",
                missing.join(", ")
            )));
        }
        Ok(Self {
            records: rdr.into_records(),
            col,
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
            match self.records.next() {
                None => {
                    self.done = true;
                    self.flush(&mut chunk);
                    break;
                }
                Some(Err(e)) => {
                    let line = e.position().map_or(0, |p| p.line());
                    chunk.rows += 1;
                    chunk.bad.push(BadLine {
                        line,
                        order_no: String::new(),
                        field: "-".into(),
                        message: format!("unreadable row: {e}"),
                    });
                }
                Some(Ok(cells)) if cells.iter().any(|c| c.contains('\0')) => {
                    // PostgreSQL cannot store it and SQLite would keep it silently.
                    chunk.rows += 1;
                    chunk.bad.push(BadLine {
                        line: cells.position().map_or(0, |p| p.line()),
                        order_no: String::new(),
                        field: "-".into(),
                        message: "a cell contains the NUL character (U+0000)".into(),
                    });
                }
                Some(Ok(cells)) => {
                    chunk.rows += 1;
                    let line = cells.position().map_or(0, |p| p.line());
                    let row = Row { line, cells };
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
                bad.push(BadLine {
                    line: r.line,
                    order_no: String::new(),
                    field: "order_no".into(),
                    message: "must not be empty".into(),
                });
            }
        } else if !self.seen.insert(order_no.clone()) {
            for r in &rows {
                bad.push(BadLine {
                    line: r.line,
                    order_no: order_no.clone(),
                    field: "order_no".into(),
                    message:
                        "the rows of one order must be consecutive (this order appeared earlier)"
                            .into(),
                });
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
                bad.push(BadLine {
                    line: r.line,
                    order_no: order_no.clone(),
                    field: "-".into(),
                    message: "order rejected because another of its rows is bad".into(),
                });
            }
        }
        bad.sort_by_key(|b| b.line);
        chunk.bad.extend(bad);
        chunk.rejected += 1;
    }

    fn build(&self, rows: &[Row], order_no: &str) -> std::result::Result<OrderDoc, Vec<BadLine>> {
        let mut bad = Vec::new();
        let bad_line = |line: u64, field: &str, message: String| BadLine {
            line,
            order_no: order_no.to_owned(),
            field: field.to_owned(),
            message,
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
                    Some((first, at)) if *first != v => bad.push(bad_line(
                        r.line,
                        c,
                        format!("differs from line {at} of the same order ('{first}')"),
                    )),
                    Some(_) => {}
                }
            }
        }
        let get = |c: &str| order.get(c).map(|(v, _)| v.to_string());
        let line_of = |c: &str| order.get(c).map_or(rows[0].line, |(_, l)| *l);
        let time = |c: &str| get(c).map(TimeInput::Text);
        let yuan = |c: &str, bad: &mut Vec<BadLine>| -> i64 {
            match order.get(c) {
                None => 0,
                Some((v, l)) => parse_yuan(c, v).unwrap_or_else(|e| {
                    bad.push(bad_line(*l, c, strip_field(&e.message)));
                    0
                }),
            }
        };
        let discount_cents = yuan("discount", &mut bad);
        let shipping_fee_cents = yuan("shipping_fee", &mut bad);
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            let qty_text = self.cell(r, "quantity");
            let quantity = match qty_text.parse::<i64>() {
                Ok(q) => q,
                Err(_) => {
                    bad.push(bad_line(
                        r.line,
                        "quantity",
                        "must be a whole number".into(),
                    ));
                    continue;
                }
            };
            let unit = match parse_yuan("unit_price", self.cell(r, "unit_price")) {
                Ok(c) => c,
                Err(e) => {
                    bad.push(bad_line(r.line, "unit_price", strip_field(&e.message)));
                    continue;
                }
            };
            let total = match self.cell(r, "line_total") {
                "" => None,
                t => match parse_yuan("line_total", t) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        bad.push(bad_line(r.line, "line_total", strip_field(&e.message)));
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
        let shipments = match (get("carrier"), get("tracking_no")) {
            (Some(carrier), Some(tracking_no)) => vec![ShipmentInput {
                order_no: None,
                carrier,
                tracking_no,
                status: get("shipment_status"),
                shipped_at: time("shipped_at"),
                delivered_at: time("delivered_at"),
                events: Vec::new(),
            }],
            (None, None) => Vec::new(),
            (Some(_), None) => {
                return Err(vec![bad_line(
                    line_of("carrier"),
                    "tracking_no",
                    "required when carrier is given".into(),
                )]);
            }
            (None, Some(_)) => {
                return Err(vec![bad_line(
                    line_of("tracking_no"),
                    "carrier",
                    "required when tracking_no is given".into(),
                )]);
            }
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
            placed_at: TimeInput::Text(get("placed_at").unwrap_or_default()),
            status: get("order_status"),
            payment_status: get("payment_status"),
            currency: get("currency"),
            discount_cents,
            shipping_fee_cents,
            paid_at: time("paid_at"),
            shipped_at: time("shipped_at"),
            delivered_at: time("delivered_at"),
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
/// back to the CSV line and column it came from.
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
    let reason = if path == "buyer" {
        "needs one of buyer_external_id, buyer_phone, buyer_email".to_owned()
    } else {
        reason.to_owned()
    };
    BadLine {
        line,
        order_no: order_no.to_owned(),
        field,
        message: reason,
    }
}

/// `"field: reason"` → `"reason"` (the field is reported separately).
fn strip_field(message: &str) -> String {
    message
        .split_once(": ")
        .map_or(message, |(_, r)| r)
        .to_owned()
}

/// Imports an order CSV into the shop: parses on a blocking thread while the previous chunk is
/// stored, [`IMPORT_CHUNK_ORDERS`] orders per write job. Only a bad header fails the import as a
/// whole; everything else is reported per line.
pub async fn import_orders<R: Read + Send + 'static>(
    store: &dyn CommerceStore,
    shop_id: Id,
    input: R,
) -> Result<ImportReport> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Chunk>>(2);
    let parser = tokio::task::spawn_blocking(move || {
        let mut reader = match OrderCsvReader::new(input) {
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
                report.bad(BadLine {
                    line: item.index as u64,
                    order_no: keys.get(&item.index).cloned().unwrap_or_default(),
                    field,
                    message,
                });
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
        let mut r =
            OrderCsvReader::new(std::io::Cursor::new(format!("{HEADER}{body}").into_bytes()))
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
        let e = OrderCsvReader::new("order_no,sku\n".as_bytes())
            .err()
            .unwrap();
        assert!(e.message.contains("placed_at") && e.message.contains("quantity"));
    }
}
