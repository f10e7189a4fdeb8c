//! Customer profiles: contact fields, identities (phone/e-mail/external id, verified or not), custom fields, tags and notes, merging, the per-customer timeline and the blocklist.
//!
//! Types and rules here are pure (no I/O); [`CustomerStore`] is the storage port for them, implemented by
//! both store crates and required by [`crate::store::Store`].
//!
//! Identity values are stored *normalized* ([`normalize_phone`], [`normalize_email`],
//! [`normalize_external_id`]) so that `+86 138-0000-1111` and `13800001111` are one identity and
//! merge suggestions are plain equality joins. A *verified* identity is one the shop vouched for
//! with an HMAC signature ([`verify_identity_signature`]); only verified identities ever attach a
//! shopper to an existing customer's history.

use crate::model::{Id, NewCustomer};
use crate::time::Millis;
use crate::{Error, Result};
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;
use utoipa::ToSchema;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident ($field:literal) { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// Parses the stored/wire form; an unknown value is a validation error naming the field.
            pub fn parse(s: &str) -> Result<Self> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(Error::validation(format!(
                        concat!($field, ": unknown value '{}' (expected one of: ", $($text, " "),+ , ")"), other
                    ))),
                }
            }
        }
    };
}

string_enum!(
    /// How the shopper found the shop.
    SourceChannel ("source") {
        Search => "search", Ad => "ad", Referral => "referral", Marketplace => "marketplace",
        Phone => "phone", Social => "social", Other => "other",
    }
);
string_enum!(
    /// What an identity identifies the shopper by.
    IdentityKind ("kind") { Phone => "phone", Email => "email", ExternalId => "external_id" }
);
string_enum!(
    /// The type of a shop-defined custom field.
    FieldKind ("kind") { Text => "text", Number => "number", Date => "date", Select => "select" }
);

// ---------------------------------------------------------------------------------------------
// Limits

pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_TAG_CHARS: usize = 32;
pub const MAX_TAGS: usize = 30;
pub const MAX_NOTE_CHARS: usize = 2000;
pub const MAX_EXTERNAL_ID_CHARS: usize = 200;
pub const MAX_FIELD_VALUE_CHARS: usize = 500;
pub const MAX_ADDRESS_PART_CHARS: usize = 200;
/// A signed identity is accepted this long before or after its timestamp (clock skew + page age).
pub const IDENTITY_WINDOW_SECS: i64 = 600;

// ---------------------------------------------------------------------------------------------
// Normalization

/// Normalizes a phone number for storage and matching: separators dropped, digits only with an
/// optional leading `+`; a Chinese mainland mobile written with its country code (`+86`, `0086`,
/// `86` + 11 digits starting with 1) becomes the plain 11-digit number, since shoppers type it
/// both ways. `field` names the field in the error.
pub fn normalize_phone(field: &str, raw: &str) -> Result<String> {
    let trimmed = raw.trim();
    let mut out = String::with_capacity(trimmed.len());
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            '0'..='9' => out.push(c),
            '+' if i == 0 => out.push(c),
            ' ' | '-' | '(' | ')' | '.' => {}
            _ => {
                return Err(Error::validation(format!(
                    "{field}: may contain only digits, spaces, - ( ) . and a leading +"
                )));
            }
        }
    }
    let digits = out.trim_start_matches('+');
    if !(5..=20).contains(&digits.len()) {
        return Err(Error::validation(format!("{field}: must be 5-20 digits")));
    }
    let cn_mobile = |d: &str| d.len() == 11 && d.starts_with('1');
    for prefix in ["+86", "0086", "86"] {
        if let Some(rest) = out.strip_prefix(prefix)
            && cn_mobile(rest)
        {
            return Ok(rest.to_owned());
        }
    }
    Ok(out)
}

/// Normalizes an e-mail address: trimmed and lower-cased, with one `@`, a non-empty local part
/// and a dotted domain, no spaces, at most 254 characters.
pub fn normalize_email(field: &str, raw: &str) -> Result<String> {
    let e = raw.trim().to_lowercase();
    let bad = || Error::validation(format!("{field}: is not an e-mail address"));
    if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = e.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad());
    }
    Ok(e)
}

/// An external id is the shop's own user id: trimmed, 1-200 characters, no control characters.
/// It is case-sensitive (shops' ids are opaque).
pub fn normalize_external_id(field: &str, raw: &str) -> Result<String> {
    let v = raw.trim();
    if v.is_empty() || v.chars().count() > MAX_EXTERNAL_ID_CHARS {
        return Err(Error::validation(format!(
            "{field}: must be 1-{MAX_EXTERNAL_ID_CHARS} characters"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(Error::validation(format!(
            "{field}: must not contain control characters"
        )));
    }
    Ok(v.to_owned())
}

/// Normalizes a value of `kind` (the field is named `value` in errors unless given).
pub fn normalize_identity(kind: IdentityKind, field: &str, raw: &str) -> Result<String> {
    match kind {
        IdentityKind::Phone => normalize_phone(field, raw),
        IdentityKind::Email => normalize_email(field, raw),
        IdentityKind::ExternalId => normalize_external_id(field, raw),
    }
}

/// A tag: trimmed, 1-32 characters, no commas (CSV export joins tags with `,`) or control characters.
pub fn normalize_tag(raw: &str) -> Result<String> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > MAX_TAG_CHARS {
        return Err(Error::validation(format!(
            "tags: each tag must be 1-{MAX_TAG_CHARS} characters"
        )));
    }
    if t.contains(',') || t.chars().any(char::is_control) {
        return Err(Error::validation(
            "tags: a tag must not contain commas or control characters",
        ));
    }
    Ok(t.to_owned())
}

/// A display name: trimmed, 1-100 characters.
pub fn normalize_name(field: &str, raw: &str) -> Result<String> {
    let n = raw.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME_CHARS {
        return Err(Error::validation(format!(
            "{field}: must be 1-{MAX_NAME_CHARS} characters"
        )));
    }
    if n.chars().any(char::is_control) {
        return Err(Error::validation(format!(
            "{field}: must not contain control characters"
        )));
    }
    Ok(n.to_owned())
}

fn limited(field: &str, raw: &str, max: usize, required: bool) -> Result<String> {
    let v = raw.trim();
    if required && v.is_empty() {
        return Err(Error::validation(format!("{field}: must not be empty")));
    }
    if v.chars().count() > max {
        return Err(Error::validation(format!(
            "{field}: must be at most {max} characters"
        )));
    }
    Ok(v.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Signed identities

/// An identity the shop's page passes to the widget, signed with the shop's identity secret.
#[derive(Debug, Clone, Deserialize, ToSchema, Default)]
pub struct SignedIdentity {
    pub external_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Unix time in **seconds** when the page signed it.
    pub timestamp: i64,
    /// Lower-case hex HMAC-SHA256 of [`identity_canonical_string`] under the shop's secret.
    pub signature: String,
}

/// The string the shop signs: the shop's slug, then each field on its own line, absent fields
/// empty, exactly as sent (no trimming), the timestamp in decimal seconds:
///
/// ```text
/// kefu-identity-v1\n{shop}\n{external_id}\n{name}\n{email}\n{phone}\n{timestamp}
/// ```
///
/// Including the slug stops an identity signed for one shop from being replayed at another that
/// happens to share a secret; the version prefix lets the format change without ambiguity.
pub fn identity_canonical_string(shop_slug: &str, id: &SignedIdentity) -> String {
    format!(
        "kefu-identity-v1\n{}\n{}\n{}\n{}\n{}\n{}",
        shop_slug,
        id.external_id,
        id.name.as_deref().unwrap_or(""),
        id.email.as_deref().unwrap_or(""),
        id.phone.as_deref().unwrap_or(""),
        id.timestamp
    )
}

/// Signs `id` (used by the demo shop page and tests; shops do the same on their server).
pub fn sign_identity(secret: &str, shop_slug: &str, id: &SignedIdentity) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(identity_canonical_string(shop_slug, id).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a signed identity: the signature (constant-time) and the timestamp window around `now`.
/// Errors name the field (`identity.signature`, `identity.timestamp`) and are `unauthorized`
/// (401): the claim is well-formed but not proven.
pub fn verify_identity_signature(
    secret: &str,
    shop_slug: &str,
    id: &SignedIdentity,
    now: Millis,
) -> Result<()> {
    let given = hex::decode(id.signature.trim()).map_err(|_| {
        Error::validation("identity.signature: must be the hex HMAC-SHA256 (64 hex digits)")
    })?;
    if given.len() != 32 {
        return Err(Error::validation(
            "identity.signature: must be the hex HMAC-SHA256 (64 hex digits)",
        ));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(identity_canonical_string(shop_slug, id).as_bytes());
    // verify_slice compares in constant time.
    mac.verify_slice(&given).map_err(|_| {
        Error::unauthorized(
            "identity.signature: does not match (check the secret and the signed string)",
        )
    })?;
    let now_secs = now.0 / 1000;
    if (now_secs - id.timestamp).abs() > IDENTITY_WINDOW_SECS {
        return Err(Error::unauthorized(format!(
            "identity.timestamp: outside the {IDENTITY_WINDOW_SECS}-second window; sign the identity again"
        )));
    }
    Ok(())
}

/// A new random identity secret (256 bits, hex with a readable prefix).
pub fn generate_identity_secret() -> String {
    crate::token::generate("kfs_")
}

// ---------------------------------------------------------------------------------------------
// The profile

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Identity {
    pub id: Id,
    pub kind: IdentityKind,
    /// The normalized value.
    pub value: String,
    /// Vouched for by the shop's signature (or an admin); only these attach history.
    pub verified: bool,
    /// Where it came from: `widget`, `signed`, `agent`, `import`, `order`, `call`, `merge`.
    pub source: String,
    pub created_at: Millis,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Address {
    pub id: Id,
    pub recipient: String,
    pub phone: String,
    pub region: String,
    pub detail: String,
    pub is_default: bool,
    pub created_at: Millis,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewAddress {
    pub recipient: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub region: String,
    pub detail: String,
    #[serde(default)]
    pub is_default: bool,
}

impl NewAddress {
    pub fn normalized(&self) -> Result<NewAddress> {
        let phone = if self.phone.trim().is_empty() {
            String::new()
        } else {
            normalize_phone("phone", &self.phone)?
        };
        Ok(NewAddress {
            recipient: limited("recipient", &self.recipient, MAX_NAME_CHARS, true)?,
            phone,
            region: limited("region", &self.region, MAX_ADDRESS_PART_CHARS, false)?,
            detail: limited("detail", &self.detail, MAX_ADDRESS_PART_CHARS, true)?,
            is_default: self.is_default,
        })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Note {
    pub id: Id,
    pub author_id: Option<Id>,
    pub author_name: String,
    pub body: String,
    pub created_at: Millis,
}

/// Validates a note body: non-blank, at most [`MAX_NOTE_CHARS`].
pub fn validate_note(body: &str) -> Result<String> {
    limited("body", body, MAX_NOTE_CHARS, true)
}

/// A shop-defined custom field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldDef {
    pub id: Id,
    /// Stable machine key (`[a-z][a-z0-9_]{0,39}`), used in PATCH bodies and CSV.
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    /// The choices of a `select` field.
    pub options: Vec<String>,
    pub position: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewFieldDef {
    pub key: String,
    pub label: String,
    pub kind: String,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub position: i64,
}

/// A checked field definition, ready to store.
#[derive(Debug, Clone)]
pub struct FieldDefInput {
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    pub options: Vec<String>,
    pub position: i64,
}

impl NewFieldDef {
    pub fn validate(&self) -> Result<FieldDefInput> {
        let key = self.key.trim();
        let key_ok = !key.is_empty()
            && key.len() <= 40
            && key.as_bytes()[0].is_ascii_lowercase()
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok {
            return Err(Error::validation(
                "key: must be 1-40 characters of a-z, 0-9 and _, starting with a letter",
            ));
        }
        let label = limited("label", &self.label, 60, true)?;
        let kind = FieldKind::parse(&self.kind)?;
        let mut options = Vec::new();
        for o in &self.options {
            let o = limited("options", o, 60, true)?;
            if !options.contains(&o) {
                options.push(o);
            }
        }
        match kind {
            FieldKind::Select if options.is_empty() || options.len() > 50 => {
                return Err(Error::validation(
                    "options: a select field needs 1-50 options",
                ));
            }
            FieldKind::Select => {}
            _ if !options.is_empty() => {
                return Err(Error::validation(
                    "options: only select fields have options",
                ));
            }
            _ => {}
        }
        Ok(FieldDefInput {
            key: key.to_owned(),
            label,
            kind,
            options,
            position: self.position.clamp(0, 1000),
        })
    }
}

/// Checks (and canonicalizes) a custom field value against its definition. Numbers are decimal
/// (`-12.5`), dates `YYYY-MM-DD`, select values one of the options.
pub fn validate_field_value(def: &FieldDef, raw: &str) -> Result<String> {
    let field = format!("custom_fields.{}", def.key);
    let v = raw.trim();
    if v.chars().count() > MAX_FIELD_VALUE_CHARS {
        return Err(Error::validation(format!(
            "{field}: must be at most {MAX_FIELD_VALUE_CHARS} characters"
        )));
    }
    match def.kind {
        FieldKind::Text => Ok(v.to_owned()),
        FieldKind::Number => {
            let ok = v.parse::<f64>().is_ok_and(f64::is_finite)
                && v.bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+');
            if ok {
                Ok(v.to_owned())
            } else {
                Err(Error::validation(format!("{field}: must be a number")))
            }
        }
        FieldKind::Date => {
            let bad = || Error::validation(format!("{field}: must be a date YYYY-MM-DD"));
            let b = v.as_bytes();
            if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
                return Err(bad());
            }
            let num = |r: std::ops::Range<usize>| v[r].parse::<u16>().map_err(|_| bad());
            let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
            let month =
                ::time::Month::try_from(u8::try_from(m).map_err(|_| bad())?).map_err(|_| bad())?;
            ::time::Date::from_calendar_date(
                i32::from(y),
                month,
                u8::try_from(d).map_err(|_| bad())?,
            )
            .map(|_| v.to_owned())
            .map_err(|_| bad())
        }
        FieldKind::Select => {
            if def.options.iter().any(|o| o == v) {
                Ok(v.to_owned())
            } else {
                Err(Error::validation(format!(
                    "{field}: must be one of: {}",
                    def.options.join(", ")
                )))
            }
        }
    }
}

/// A customer as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerSummary {
    pub id: Id,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    pub source: Option<SourceChannel>,
    pub tags: Vec<String>,
    pub blocked: bool,
    pub created_at: Millis,
    /// `null` until the customer first contacts the shop (buyers created by an order import).
    pub last_contact_at: Option<Millis>,
}

/// The whole profile.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerProfile {
    pub id: Id,
    pub name: String,
    /// The primary contact fields (the spine's columns).
    pub email: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    pub source: Option<SourceChannel>,
    pub tags: Vec<String>,
    pub consent_sms: bool,
    pub consent_email: bool,
    pub blocked: bool,
    pub blocked_reason: Option<String>,
    pub blocked_at: Option<Millis>,
    pub created_at: Millis,
    /// `null` until the customer first contacts the shop (buyers created by an order import).
    pub last_contact_at: Option<Millis>,
    pub updated_at: Millis,
    /// Set when this record was merged into another: read that one instead.
    pub merged_into: Option<Id>,
    /// Every phone, e-mail and external id known for the customer.
    pub identities: Vec<Identity>,
    pub addresses: Vec<Address>,
    /// Values by field key (only fields that have a value).
    pub custom_fields: BTreeMap<String, String>,
    /// Newest first.
    pub notes: Vec<Note>,
}

/// A profile change. Absent fields are left alone; for `email`, `phone` and `source` an empty
/// string clears the value; `custom_fields` maps keys to values (`null` or `""` clears).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CustomerPatch {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub source: Option<String>,
    pub consent_sms: Option<bool>,
    pub consent_email: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub custom_fields: Option<BTreeMap<String, Option<String>>>,
}

/// A checked [`CustomerPatch`]: `Some(None)` clears.
#[derive(Debug, Clone, Default)]
pub struct CustomerChange {
    pub name: Option<String>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub source: Option<Option<SourceChannel>>,
    pub consent_sms: Option<bool>,
    pub consent_email: Option<bool>,
    pub tags: Option<Vec<String>>,
    /// `(field_id, Some(value) | None to clear)`, validated against the shop's definitions.
    pub custom_fields: Vec<(Id, Option<String>)>,
}

impl CustomerPatch {
    /// Validates against the shop's field definitions.
    pub fn validate(&self, defs: &[FieldDef]) -> Result<CustomerChange> {
        let opt = |v: &Option<String>,
                   f: &dyn Fn(&str) -> Result<String>|
         -> Result<Option<Option<String>>> {
            match v.as_deref().map(str::trim) {
                None => Ok(None),
                Some("") => Ok(Some(None)),
                Some(s) => Ok(Some(Some(f(s)?))),
            }
        };
        let source = match self.source.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(s) => Some(Some(SourceChannel::parse(s)?)),
        };
        let mut custom_fields = Vec::new();
        for (key, value) in self.custom_fields.iter().flatten() {
            let def = defs
                .iter()
                .find(|d| &d.key == key)
                .ok_or_else(|| Error::validation(format!("custom_fields.{key}: no such field")))?;
            let value = match value.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(v) => Some(validate_field_value(def, v)?),
            };
            custom_fields.push((def.id, value));
        }
        Ok(CustomerChange {
            name: self
                .name
                .as_deref()
                .map(|n| normalize_name("name", n))
                .transpose()?,
            email: opt(&self.email, &|s| normalize_email("email", s))?,
            phone: opt(&self.phone, &|s| normalize_phone("phone", s))?,
            source,
            consent_sms: self.consent_sms,
            consent_email: self.consent_email,
            tags: self.tags.as_deref().map(normalize_tags).transpose()?,
            custom_fields,
        })
    }
}

/// Normalizes and de-duplicates a tag list (at most [`MAX_TAGS`]).
pub fn normalize_tags(tags: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = normalize_tag(t)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(Error::validation(format!(
            "tags: at most {MAX_TAGS} tags per customer"
        )));
    }
    Ok(out)
}

/// How a customer list is sorted (newest first either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerSort {
    LastContact,
    Created,
}

/// Filters of the customer list and the CSV export.
#[derive(Debug, Clone)]
pub struct CustomerFilter {
    /// Substring of name, or exact/prefix match on phone, e-mail or external id (any identity).
    pub q: Option<String>,
    pub tag: Option<String>,
    pub source: Option<SourceChannel>,
    pub contact_from: Option<Millis>,
    pub contact_to: Option<Millis>,
    pub blocked: Option<bool>,
    /// Segment conditions on the customer's computed metrics (tier, group, RFM segment, churn).
    pub segment: crate::segments::SegmentFilter,
    /// Spend (paid revenue, minor units) at least / below, from the computed metrics.
    pub spend_min_cents: Option<i64>,
    pub spend_max_cents: Option<i64>,
    pub sort: CustomerSort,
    /// Keyset cursor: the sort value and id of the last row of the previous page.
    pub after: Option<(i64, Id)>,
    pub limit: i64,
}

impl Default for CustomerFilter {
    fn default() -> Self {
        Self {
            q: None,
            tag: None,
            source: None,
            contact_from: None,
            contact_to: None,
            blocked: None,
            segment: Default::default(),
            spend_min_cents: None,
            spend_max_cents: None,
            sort: CustomerSort::LastContact,
            after: None,
            limit: 50,
        }
    }
}

/// Encodes a keyset cursor (`<sort value>.<id>`), opaque to clients.
pub fn encode_cursor(value: i64, id: Id) -> String {
    format!("{value}.{id}")
}

pub fn decode_cursor(s: &str) -> Result<(i64, Id)> {
    let bad = || Error::validation("cursor: malformed");
    let (v, id) = s.split_once('.').ok_or_else(bad)?;
    Ok((
        v.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}

/// A page of customers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerPage {
    pub customers: Vec<CustomerSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Two records that look like one person.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MergeSuggestion {
    pub a: CustomerSummary,
    pub b: CustomerSummary,
    /// What they share: `phone`, `email` or `external_id`.
    pub reason: IdentityKind,
    pub value: String,
}

/// One entry of a customer's timeline. `kind` is open-ended so other areas add their own
/// (`order.placed`, `order.paid`, `order.refund`, `ticket.created`, `aftersales.created` …)
/// without changing this type.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimelineItem {
    /// e.g. `conversation.started`, `conversation.resolved`, `note`, `customer.merged`,
    /// `customer.blocked`, `customer.unblocked`, `identity.verified`.
    pub kind: String,
    pub at: Millis,
    /// Who or what it concerns: the note's author, the agent who resolved, the admin who
    /// blocked or merged (empty when nobody in particular). `kind` says what happened.
    pub title: String,
    /// The detail: a message preview, the note, the block reason, the merged record
    /// (`#id name`), the verified external id.
    pub summary: String,
    /// What the item points at (`conversation`, `note`, `customer`, `order` …) and its id.
    pub ref_type: Option<String>,
    pub ref_id: Option<Id>,
    /// Opaque position of this item, for `before=` paging.
    pub cursor: String,
}

/// A page of the timeline, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimelinePage {
    pub items: Vec<TimelineItem>,
    pub next_cursor: Option<String>,
}

/// A profile event recorded for the timeline.
#[derive(Debug, Clone)]
pub struct CustomerEvent {
    pub kind: &'static str,
    pub title: String,
    pub summary: String,
    pub ref_type: Option<&'static str>,
    pub ref_id: Option<Id>,
}

/// What applying a signed identity did.
#[derive(Debug, Clone)]
pub struct VerifiedOutcome {
    /// The customer the shopper now is.
    pub customer_id: Id,
    /// Records merged into it by this step (their cached visitors must be dropped).
    pub merged: Vec<Id>,
    /// Whether the current visitor token may keep being used (it now points at `customer_id`).
    pub keep_token: bool,
}

/// A checked signed identity, ready to apply.
#[derive(Debug, Clone)]
pub struct VerifiedClaim {
    pub external_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Contact fields the shopper gave (pre-chat form, session call), normalized; stored as
/// unverified identities and as the primary fields where those are still empty.
pub fn normalize_contact(c: &NewCustomer) -> Result<NewCustomer> {
    Ok(NewCustomer {
        name: c
            .name
            .as_deref()
            .map(|n| normalize_name("name", n))
            .transpose()?,
        email: c
            .email
            .as_deref()
            .map(|e| normalize_email("email", e))
            .transpose()?,
        phone: c
            .phone
            .as_deref()
            .map(|p| normalize_phone("phone", p))
            .transpose()?,
        external_id: c
            .external_id
            .as_deref()
            .map(|x| normalize_external_id("external_id", x))
            .transpose()?,
    })
}

/// Storage for this area. Every method is scoped by `shop_id`: another shop's ids answer
/// `not_found` exactly as unknown ids do. Writes return only once committed.
#[async_trait]
pub trait CustomerStore: Send + Sync + 'static {
    /// The profile (also of a merged record: then `merged_into` says where it went).
    async fn customer_profile(&self, shop_id: Id, id: Id) -> Result<Option<CustomerProfile>>;
    /// Applies a checked change; `not_found` for another shop's or a merged customer.
    async fn update_customer_profile(
        &self,
        shop_id: Id,
        id: Id,
        change: &CustomerChange,
    ) -> Result<()>;
    async fn list_customers(&self, shop_id: Id, filter: &CustomerFilter) -> Result<CustomerPage>;

    /// Records contact fields as identities (`verified = false`, `source`), fills empty primary
    /// fields and moves `last_contact_at` to now. Never attaches anyone to another record.
    async fn record_contact(
        &self,
        shop_id: Id,
        customer_id: Id,
        contact: &NewCustomer,
        source: &str,
    ) -> Result<()>;
    /// Moves `last_contact_at` (a conversation started or reopened).
    async fn touch_customer(&self, shop_id: Id, customer_id: Id, at: Millis) -> Result<()>;
    /// Applies a signed identity for a shopper who is `current` (their visitor's customer, if
    /// any) — see docs/API.md for the rules. Creates the customer when nobody fits.
    async fn apply_verified_identity(
        &self,
        shop_id: Id,
        current: Option<Id>,
        claim: &VerifiedClaim,
    ) -> Result<VerifiedOutcome>;

    async fn add_identity(
        &self,
        shop_id: Id,
        customer_id: Id,
        kind: IdentityKind,
        value: &str,
        source: &str,
    ) -> Result<Identity>;
    async fn delete_identity(&self, shop_id: Id, customer_id: Id, identity_id: Id) -> Result<()>;

    async fn add_address(&self, shop_id: Id, customer_id: Id, a: &NewAddress) -> Result<Address>;
    async fn update_address(
        &self,
        shop_id: Id,
        customer_id: Id,
        address_id: Id,
        a: &NewAddress,
    ) -> Result<Address>;
    async fn delete_address(&self, shop_id: Id, customer_id: Id, address_id: Id) -> Result<()>;

    async fn add_note(
        &self,
        shop_id: Id,
        customer_id: Id,
        author_id: Option<Id>,
        author_name: &str,
        body: &str,
    ) -> Result<Note>;
    async fn delete_note(&self, shop_id: Id, customer_id: Id, note_id: Id) -> Result<()>;

    async fn list_field_defs(&self, shop_id: Id) -> Result<Vec<FieldDef>>;
    /// `conflict` if the key is taken.
    async fn create_field_def(&self, shop_id: Id, def: &FieldDefInput) -> Result<FieldDef>;
    async fn update_field_def(&self, shop_id: Id, id: Id, def: &FieldDefInput) -> Result<FieldDef>;
    /// Deletes the definition and its values.
    async fn delete_field_def(&self, shop_id: Id, id: Id) -> Result<()>;

    /// Merges `source` into `target` (see [`CustomerStore`] docs in each store for the moved
    /// tables). `validation_failed` for itself, `conflict` for merged ones or two different
    /// verified external ids.
    async fn merge_customers(&self, shop_id: Id, target: Id, source: Id, actor: &str)
    -> Result<()>;
    async fn merge_suggestions(&self, shop_id: Id, limit: i64) -> Result<Vec<MergeSuggestion>>;

    /// Blocks (with a reason) or unblocks; records the event.
    async fn set_blocked(
        &self,
        shop_id: Id,
        customer_id: Id,
        blocked: bool,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<()>;
    async fn record_customer_event(
        &self,
        shop_id: Id,
        customer_id: Id,
        event: &CustomerEvent,
    ) -> Result<()>;
    /// Newest first; `before` is an item's `cursor`.
    async fn timeline(
        &self,
        shop_id: Id,
        customer_id: Id,
        before: Option<&str>,
        limit: i64,
        // `Some(agent)`: a plain agent's view, leaving out tickets and after-sales requests
        // assigned to someone else; `None`: the whole shop.
        agent_view: Option<Id>,
    ) -> Result<TimelinePage>;

    /// The shop's identity secret, created on first use.
    async fn identity_secret(&self, shop_id: Id) -> Result<String>;
    /// Replaces the secret with `secret` and returns it.
    async fn rotate_identity_secret(&self, shop_id: Id, secret: &str) -> Result<String>;
}

/// Decodes a timeline cursor `at.src.id`.
pub fn decode_timeline_cursor(s: &str) -> Result<(i64, i64, Id)> {
    let bad = || Error::validation("before: malformed cursor");
    let mut parts = s.split('.');
    let mut next = || -> Result<i64> { parts.next().ok_or_else(bad)?.parse().map_err(|_| bad()) };
    let v = (next()?, next()?, next()?);
    Ok(v)
}

/// CSV cell escaping for exports: quotes when needed, and a leading `'` before `= + - @` (and tab
/// or CR) so spreadsheets never evaluate a shopper-typed value as a formula.
pub fn csv_cell(raw: &str) -> String {
    let guarded = match raw.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{raw}"),
        _ => raw.to_owned(),
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phones_normalize() {
        assert_eq!(
            normalize_phone("phone", "+86 138-0000-1111").unwrap(),
            "13800001111"
        );
        assert_eq!(
            normalize_phone("phone", "0086 13800001111").unwrap(),
            "13800001111"
        );
        assert_eq!(
            normalize_phone("phone", "8613800001111").unwrap(),
            "13800001111"
        );
        assert_eq!(
            normalize_phone("phone", "(021) 6888.1234").unwrap(),
            "02168881234"
        );
        assert_eq!(
            normalize_phone("phone", "+852 9123 4567").unwrap(),
            "+85291234567"
        );
        let e = normalize_phone("phone", "12a45").unwrap_err();
        assert!(e.message.starts_with("phone:"));
        assert!(normalize_phone("phone", "1234").is_err());
        assert!(normalize_phone("phone", "1+2345678").is_err());
        assert!(normalize_phone("phone", &"1".repeat(21)).is_err());
    }

    #[test]
    fn emails_normalize() {
        assert_eq!(
            normalize_email("email", "  Lin.XiaoYu@Example.COM ").unwrap(),
            "lin.xiaoyu@example.com"
        );
        for bad in [
            "", "a", "a@b", "@b.cn", "a b@c.cn", "a@b@c.cn", "a@.cn", "a@b.cn.",
        ] {
            let e = normalize_email("email", bad).unwrap_err();
            assert_eq!(e.message, "email: is not an e-mail address", "{bad}");
        }
    }

    #[test]
    fn field_values_follow_their_kind() {
        let def = |kind, options: &[&str]| FieldDef {
            id: 1,
            key: "k".into(),
            label: "K".into(),
            kind,
            options: options.iter().map(|s| s.to_string()).collect(),
            position: 0,
        };
        assert!(validate_field_value(&def(FieldKind::Number, &[]), "-12.5").is_ok());
        assert!(validate_field_value(&def(FieldKind::Number, &[]), "1e9").is_err());
        assert!(validate_field_value(&def(FieldKind::Number, &[]), "abc").is_err());
        assert!(validate_field_value(&def(FieldKind::Date, &[]), "2026-02-28").is_ok());
        assert!(validate_field_value(&def(FieldKind::Date, &[]), "2026-02-30").is_err());
        let sel = def(FieldKind::Select, &["金卡", "银卡"]);
        assert!(validate_field_value(&sel, "金卡").is_ok());
        let e = validate_field_value(&sel, "铜卡").unwrap_err();
        assert!(e.message.starts_with("custom_fields.k:"));
    }

    #[test]
    fn field_defs_validate() {
        let d = |key: &str, kind: &str, options: &[&str]| NewFieldDef {
            key: key.into(),
            label: "L".into(),
            kind: kind.into(),
            options: options.iter().map(|s| s.to_string()).collect(),
            position: 0,
        };
        assert!(d("vip_level", "select", &["a"]).validate().is_ok());
        assert!(d("vip_level", "select", &[]).validate().is_err());
        assert!(d("Vip", "text", &[]).validate().is_err());
        assert!(d("1x", "text", &[]).validate().is_err());
        assert!(d("x", "text", &["a"]).validate().is_err());
        assert!(
            d("x", "color", &[])
                .validate()
                .unwrap_err()
                .message
                .starts_with("kind:")
        );
    }

    fn identity(ts: i64) -> SignedIdentity {
        SignedIdentity {
            external_id: "u-1001".into(),
            name: Some("林小雨".into()),
            email: None,
            phone: Some("13800001111".into()),
            timestamp: ts,
            signature: String::new(),
        }
    }

    #[test]
    fn signatures_verify() {
        let now = Millis(1_800_000_000_000);
        let mut id = identity(1_800_000_000);
        id.signature = sign_identity("secret", "demo", &id);
        assert!(verify_identity_signature("secret", "demo", &id, now).is_ok());
        // Still fine later within the window (a replay in the window is harmless: same identity).
        assert!(verify_identity_signature("secret", "demo", &id, Millis(now.0 + 599_000)).is_ok());
        let e =
            verify_identity_signature("secret", "demo", &id, Millis(now.0 + 601_000)).unwrap_err();
        assert!(e.message.starts_with("identity.timestamp"));
        let e = verify_identity_signature("other", "demo", &id, now).unwrap_err();
        assert!(e.message.starts_with("identity.signature"));
        assert_eq!(e.code, crate::ErrorCode::Unauthorized);
        // Another shop's slug, or any changed field, breaks it.
        assert!(verify_identity_signature("secret", "shop-b", &id, now).is_err());
        let mut changed = id.clone();
        changed.external_id = "u-1002".into();
        assert!(verify_identity_signature("secret", "demo", &changed, now).is_err());
        let mut bad = id.clone();
        bad.signature = "zz".into();
        assert_eq!(
            verify_identity_signature("secret", "demo", &bad, now)
                .unwrap_err()
                .code,
            crate::ErrorCode::ValidationFailed
        );
    }

    #[test]
    fn csv_cells_are_escaped_and_guarded() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+86 138"), "'+86 138");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@cmd"), "'@cmd");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(decode_cursor(&encode_cursor(123, 9)).unwrap(), (123, 9));
        assert!(decode_cursor("x").is_err());
        assert_eq!(decode_timeline_cursor("5.2.7").unwrap(), (5, 2, 7));
        assert!(decode_timeline_cursor("5.2").is_err());
    }

    proptest! {
        #[test]
        fn phone_normalization_is_idempotent(d in "[0-9]{5,18}", sep in "[ -]?") {
            let raw = format!("{}{}{}", &d[..2], sep, &d[2..]);
            if let Ok(n) = normalize_phone("phone", &raw) {
                prop_assert_eq!(normalize_phone("phone", &n).unwrap(), n.clone());
                prop_assert!(n.trim_start_matches('+').bytes().all(|b| b.is_ascii_digit()));
            }
        }

        #[test]
        fn cn_mobiles_match_with_or_without_country_code(rest in "[3-9][0-9]{9}") {
            let local = format!("1{rest}");
            let plus = normalize_phone("phone", &format!("+86 {local}")).unwrap();
            prop_assert_eq!(plus, local.clone());
            prop_assert_eq!(normalize_phone("phone", &local).unwrap(), local);
        }

        #[test]
        fn email_normalization_is_idempotent_and_lowercase(l in "[A-Za-z0-9._]{1,20}", d in "[A-Za-z]{1,10}\\.[a-z]{2,4}") {
            let n = normalize_email("email", &format!(" {l}@{d} ")).unwrap();
            prop_assert_eq!(normalize_email("email", &n).unwrap(), n.clone());
            prop_assert_eq!(n.to_lowercase(), n);
        }

        #[test]
        fn any_change_breaks_the_signature(ext in "[a-z0-9-]{1,20}", flip in 0usize..64) {
            let mut id = identity(1_800_000_000);
            id.external_id = ext;
            id.signature = sign_identity("k", "demo", &id);
            let mut sig: Vec<u8> = id.signature.clone().into_bytes();
            sig[flip] = if sig[flip] == b'0' { b'1' } else { b'0' };
            id.signature = String::from_utf8(sig).unwrap();
            prop_assert!(verify_identity_signature("k", "demo", &id, Millis(1_800_000_000_000)).is_err());
        }

        #[test]
        fn csv_cells_never_start_with_a_formula(s in ".{0,20}") {
            let c = csv_cell(&s);
            // What a spreadsheet sees: the cell with its CSV quoting undone.
            let seen = match c.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                Some(inner) => inner.replace("\"\"", "\""),
                None => c.clone(),
            };
            let first = seen.chars().next();
            prop_assert!(!matches!(first, Some('=' | '+' | '-' | '@')));
        }
    }
}

/// Parses a time given in a query: `YYYY-MM-DD` (midnight UTC) or RFC 3339.
pub fn parse_time(field: &str, s: &str) -> Result<Millis> {
    use ::time::format_description::well_known::Rfc3339;
    let bad = || {
        Error::validation(format!(
            "{field}: must be a date YYYY-MM-DD or an RFC 3339 time"
        ))
    };
    let s = s.trim();
    let t = if s.len() == 10 {
        let fmt = ::time::macros::format_description!("[year]-[month]-[day]");
        ::time::Date::parse(s, &fmt)
            .map_err(|_| bad())?
            .midnight()
            .assume_utc()
    } else {
        ::time::OffsetDateTime::parse(s, &Rfc3339).map_err(|_| bad())?
    };
    Ok(Millis((t.unix_timestamp_nanos() / 1_000_000) as i64))
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn parses_dates_and_rfc3339() {
        assert_eq!(super::parse_time("f", "1970-01-02").unwrap().0, 86_400_000);
        assert_eq!(
            super::parse_time("f", "2023-11-14T22:13:20.123Z")
                .unwrap()
                .0,
            1_700_000_000_123
        );
        assert!(
            super::parse_time("f", "yesterday")
                .unwrap_err()
                .message
                .starts_with("f:")
        );
    }
}
