//! Product and order cards: the rich messages an agent sends into a conversation.
//!
//! A card is stored as a message of kind `product_card` / `order_card` whose `payload` is a
//! *snapshot* taken at send time (a later price change or payment does not rewrite what the shopper
//! was shown), plus a plain-text `body` fallback for old clients, previews and notifications.
//! Everything here is pure: the HTTP layer reads the product/order through
//! [`crate::reminders::ReminderStore`] and builds the card with these functions.

use crate::model::Id;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A product as shown in a `product_card` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProductCard {
    pub product_id: Id,
    pub sku: String,
    pub name: String,
    pub image_url: String,
    pub price_cents: i64,
    pub currency: String,
    /// Where the shopper can open the product; empty when the shop has no link template.
    pub url: String,
}

/// One line of an order card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderCardItem {
    pub name: String,
    pub sku: String,
    pub quantity: i64,
    pub total_cents: i64,
}

/// The latest shipment of an order, as shown on its card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderCardLogistics {
    pub carrier: String,
    pub tracking_no: String,
    /// pending | in_transit | out_for_delivery | delivered | exception | returned
    pub status: String,
}

/// An order as shown in an `order_card` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderCard {
    pub order_id: Id,
    pub order_no: String,
    /// created | paid | shipped | delivered | completed | cancelled
    pub status: String,
    /// unpaid | paid | partially_refunded | refunded
    pub payment_status: String,
    pub currency: String,
    pub total_cents: i64,
    /// The first lines (at most [`MAX_CARD_ITEMS`]).
    pub items: Vec<OrderCardItem>,
    /// All lines of the order, e.g. "AirBuds Pro ×1 等 3 件".
    pub items_summary: String,
    pub item_count: i64,
    /// The first item's product image, when the line names a product that has one.
    pub image_url: String,
    pub logistics: Option<OrderCardLogistics>,
    /// Placed at, ms since the epoch.
    pub placed_at: i64,
    /// Where the shopper can open the order; empty when the shop has no link template.
    pub url: String,
}

/// Lines kept on an order card; the summary still counts them all.
pub const MAX_CARD_ITEMS: usize = 5;

/// `19900` → `199.00`. Integer arithmetic only: money is never a float.
pub fn format_amount(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// `199.00元` for CNY, `199.00 USD` otherwise.
pub fn format_money(cents: i64, currency: &str) -> String {
    match currency {
        "CNY" | "" => format!("{}元", format_amount(cents)),
        other => format!("{} {other}", format_amount(cents)),
    }
}

/// The Chinese label of an order's state as a shopper reads it (payment first: an unpaid order is
/// "待付款" whatever its fulfilment status says).
pub fn order_state_label(status: &str, payment_status: &str) -> &'static str {
    match (status, payment_status) {
        ("cancelled", _) => "已取消",
        (_, "refunded") => "已退款",
        (_, "unpaid") => "待付款",
        ("paid", _) => "待发货",
        ("shipped", _) => "已发货",
        ("delivered", _) => "已签收",
        ("completed", _) => "已完成",
        _ => "处理中",
    }
}

/// "AirBuds Pro ×1" or "AirBuds Pro ×1 等 3 件" (counting quantities).
pub fn items_summary(items: &[OrderCardItem], item_count: i64) -> String {
    match items.first() {
        None => "无商品".to_owned(),
        Some(first) if item_count <= first.quantity => {
            format!("{} ×{}", first.name, first.quantity)
        }
        Some(first) => format!("{} ×{} 等 {} 件", first.name, first.quantity, item_count),
    }
}

/// The plain-text fallback of a product card.
pub fn product_body(card: &ProductCard) -> String {
    format!(
        "[商品] {} {}",
        card.name,
        format_money(card.price_cents, &card.currency)
    )
}

/// The plain-text fallback of an order card.
pub fn order_body(card: &OrderCard) -> String {
    format!(
        "[订单] {} {} {} {}",
        card.order_no,
        card.items_summary,
        format_money(card.total_cents, &card.currency),
        order_state_label(&card.status, &card.payment_status)
    )
}

/// Fills a link template: `{sku}`, `{product_id}`, `{order_no}`, `{order_id}` are replaced
/// (URL-safe characters kept, everything else percent-encoded); an empty template gives no link.
pub fn fill_link(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in vars {
        out = out.replace(&format!("{{{name}}}"), &percent_encode(value));
    }
    out
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, quantity: i64) -> OrderCardItem {
        OrderCardItem {
            name: name.into(),
            sku: "S".into(),
            quantity,
            total_cents: 100,
        }
    }

    #[test]
    fn money_is_formatted_from_integers() {
        assert_eq!(format_amount(19900), "199.00");
        assert_eq!(format_amount(5), "0.05");
        assert_eq!(format_amount(-1234), "-12.34");
        assert_eq!(format_money(19900, "CNY"), "199.00元");
        assert_eq!(format_money(1999, "USD"), "19.99 USD");
    }

    #[test]
    fn summaries_count_quantities() {
        assert_eq!(items_summary(&[], 0), "无商品");
        assert_eq!(items_summary(&[item("耳机", 2)], 2), "耳机 ×2");
        assert_eq!(
            items_summary(&[item("耳机", 1), item("手环", 2)], 3),
            "耳机 ×1 等 3 件"
        );
    }

    #[test]
    fn fallback_bodies() {
        let p = ProductCard {
            product_id: 1,
            sku: "AB-PRO".into(),
            name: "AirBuds Pro".into(),
            image_url: String::new(),
            price_cents: 19900,
            currency: "CNY".into(),
            url: String::new(),
        };
        assert_eq!(product_body(&p), "[商品] AirBuds Pro 199.00元");
        let o = OrderCard {
            order_id: 1,
            order_no: "D1001".into(),
            status: "created".into(),
            payment_status: "unpaid".into(),
            currency: "CNY".into(),
            total_cents: 39800,
            items: vec![item("AirBuds Pro", 2)],
            items_summary: "AirBuds Pro ×2".into(),
            item_count: 2,
            image_url: String::new(),
            logistics: None,
            placed_at: 0,
            url: String::new(),
        };
        assert_eq!(
            order_body(&o),
            "[订单] D1001 AirBuds Pro ×2 398.00元 待付款"
        );
    }

    #[test]
    fn state_labels_put_payment_first() {
        assert_eq!(order_state_label("created", "unpaid"), "待付款");
        assert_eq!(order_state_label("shipped", "paid"), "已发货");
        assert_eq!(order_state_label("cancelled", "unpaid"), "已取消");
        assert_eq!(order_state_label("completed", "refunded"), "已退款");
    }

    #[test]
    fn links_are_filled_and_encoded() {
        assert_eq!(
            fill_link("/demo/shop?sku={sku}", &[("sku", "AB PRO/1")]),
            "/demo/shop?sku=AB%20PRO%2F1"
        );
        assert_eq!(fill_link("", &[("sku", "x")]), "");
    }
}
