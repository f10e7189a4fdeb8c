//! Signed inbound commerce webhooks: the signature recipe, the time window and the event payloads.
//!
//! The shop signs `timestamp + "." + raw body` with HMAC-SHA256 under its webhook secret and sends
//! `X-Kefu-Timestamp: <unix seconds>` and `X-Kefu-Signature: sha256=<hex>`. kefu recomputes the MAC
//! over the exact bytes received, compares in constant time, refuses timestamps more than
//! [`MAX_SKEW_SECS`] away from now, and refuses a replay (same event id or same signature).

use super::{
    CommerceChange, OrderInput, RefundInput, RefundUpsert, ShipmentInput, ShipmentUpsert,
    TimeInput, validate_order, validate_refund, validate_shipment,
};
use crate::{Error, Result};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use utoipa::ToSchema;

/// How far a delivery's timestamp may be from now, either way.
pub const MAX_SKEW_SECS: i64 = 300;
pub const TIMESTAMP_HEADER: &str = "x-kefu-timestamp";
pub const SIGNATURE_HEADER: &str = "x-kefu-signature";
pub const EVENT_TYPES: &[&str] = &[
    "order.created",
    "order.paid",
    "order.shipped",
    "order.delivered",
    "order.refunded",
];

/// The signature header value for `body` sent at `timestamp`: `sha256=<hex>`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a delivery: the timestamp is unix seconds within [`MAX_SKEW_SECS`] of `now_secs` and the
/// signature is the MAC of `timestamp.body` (compared in constant time). Errors are
/// `unauthorized` with a message saying which check failed.
pub fn verify(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<()> {
    let ts = timestamp
        .ok_or_else(|| Error::unauthorized("missing X-Kefu-Timestamp header"))?
        .trim();
    let secs: i64 = ts
        .parse()
        .map_err(|_| Error::unauthorized("X-Kefu-Timestamp: must be unix seconds"))?;
    if (now_secs - secs).abs() > MAX_SKEW_SECS {
        return Err(Error::unauthorized(
            "X-Kefu-Timestamp: outside the allowed window of ±5 minutes (stale or replayed delivery)",
        ));
    }
    let sig = signature
        .ok_or_else(|| Error::unauthorized("missing X-Kefu-Signature header"))?
        .trim();
    let hex_sig = sig
        .strip_prefix("sha256=")
        .ok_or_else(|| Error::unauthorized("X-Kefu-Signature: must be sha256=<hex>"))?;
    let given = hex::decode(hex_sig)
        .map_err(|_| Error::unauthorized("X-Kefu-Signature: must be sha256=<hex>"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&given)
        .map_err(|_| Error::unauthorized("X-Kefu-Signature: signature does not match"))
}

/// An inbound event. `data` depends on `type`:
/// - `order.created`: a full order (as in `POST /orders/batch`);
/// - `order.paid`: `{order_no, paid_at}`;
/// - `order.shipped` / `order.delivered`: a shipment with `order_no` (as in `POST /shipments/batch`);
///   `order.delivered` defaults the shipment status to `delivered`;
/// - `order.refunded`: a refund with `order_no` (as in `POST /refunds/batch`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct WebhookEvent {
    /// The sender's unique id of this event: a second delivery with the same id is a replay.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: TimeInput,
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize)]
struct PaidData {
    order_no: String,
    paid_at: Option<TimeInput>,
}

fn data<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Result<T> {
    serde_json::from_value(v.clone()).map_err(|e| Error::validation(format!("data: {e}")))
}

impl WebhookEvent {
    /// Validates the event and turns it into the change it asks for.
    pub fn to_change(&self) -> Result<CommerceChange> {
        let id = self.id.trim();
        if id.is_empty() || id.len() > 128 {
            return Err(Error::validation("id: must be 1-128 characters"));
        }
        let occurred_at = self.occurred_at.parse("occurred_at")?;
        match self.event_type.as_str() {
            "order.created" => {
                let o: OrderInput = data(&self.data)?;
                Ok(CommerceChange::Orders(vec![(
                    0,
                    validate_order("data.", &o)?,
                )]))
            }
            "order.paid" => {
                let p: PaidData = data(&self.data)?;
                let order_no = p.order_no.trim().to_owned();
                if order_no.is_empty() {
                    return Err(Error::validation("data.order_no: must not be empty"));
                }
                let paid_at = match &p.paid_at {
                    Some(t) => t.parse("data.paid_at")?,
                    None => occurred_at,
                };
                Ok(CommerceChange::MarkPaid { order_no, paid_at })
            }
            "order.shipped" | "order.delivered" => {
                let mut s: ShipmentInput = data(&self.data)?;
                let order_no = order_no_of("data.order_no", s.order_no.as_deref())?;
                if self.event_type == "order.delivered" {
                    s.status.get_or_insert_with(|| "delivered".into());
                    if s.delivered_at.is_none() {
                        s.delivered_at = Some(self.occurred_at.clone());
                    }
                } else if s.shipped_at.is_none() {
                    s.shipped_at = Some(self.occurred_at.clone());
                }
                let shipment = validate_shipment("data.", &s)?;
                Ok(CommerceChange::Shipments(vec![(
                    0,
                    ShipmentUpsert { order_no, shipment },
                )]))
            }
            "order.refunded" => {
                let mut r: RefundInput = data(&self.data)?;
                let order_no = order_no_of("data.order_no", r.order_no.as_deref())?;
                if r.refunded_at.is_none() {
                    r.refunded_at = Some(self.occurred_at.clone());
                }
                let refund = validate_refund("data.", &r)?;
                Ok(CommerceChange::Refunds(vec![(
                    0,
                    RefundUpsert { order_no, refund },
                )]))
            }
            _ => Err(Error::validation(format!(
                "type: must be one of {}",
                EVENT_TYPES.join(", ")
            ))),
        }
    }
}

pub(crate) fn order_no_of(field: &str, v: Option<&str>) -> Result<String> {
    let v = v.map(str::trim).unwrap_or("");
    if v.is_empty() {
        return Err(Error::validation(format!("{field}: must not be empty")));
    }
    Ok(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let body = br#"{"id":"e1"}"#;
        let sig = sign("s3cret", "1700000000", body);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        verify(
            "s3cret",
            Some("1700000000"),
            Some(&sig),
            body,
            1_700_000_100,
        )
        .unwrap();
        // another secret, another body, stale, future, malformed
        assert!(verify("other", Some("1700000000"), Some(&sig), body, 1_700_000_000).is_err());
        assert!(
            verify(
                "s3cret",
                Some("1700000000"),
                Some(&sig),
                b"{}",
                1_700_000_000
            )
            .is_err()
        );
        let stale = verify(
            "s3cret",
            Some("1700000000"),
            Some(&sig),
            body,
            1_700_000_301,
        );
        assert!(stale.unwrap_err().message.contains("window"));
        assert!(
            verify(
                "s3cret",
                Some("1700000000"),
                Some(&sig),
                body,
                1_699_999_600
            )
            .is_err()
        );
        assert!(
            verify(
                "s3cret",
                Some("1700000000"),
                Some("sha256=zz"),
                body,
                1_700_000_000
            )
            .is_err()
        );
        assert!(verify("s3cret", None, Some(&sig), body, 1_700_000_000).is_err());
    }

    #[test]
    fn known_vector() {
        // Computed independently: python3 -c "import hmac,hashlib;
        // print(hmac.new(b'key', b'1.x', hashlib.sha256).hexdigest())"
        assert_eq!(
            sign("key", "1", b"x"),
            "sha256=fc4913c41a7bf793267e2a384f3261c9436ec2cd097bd745e7b0d99113f510ec"
        );
    }
}
