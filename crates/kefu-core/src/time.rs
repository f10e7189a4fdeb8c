//! Time as kefu stores it: milliseconds since the Unix epoch (`i64`), the same in both databases,
//! shown to clients as RFC 3339 strings.

use serde::{Serialize, Serializer};

/// A point in time, in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub i64);

impl Millis {
    pub fn now() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Millis(now)
    }

    /// RFC 3339 with millisecond precision, e.g. `2026-11-23T10:00:00.123Z`.
    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        match ::time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(t) => {
                let fmt = ::time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
                );
                t.format(&fmt).unwrap_or_default()
            }
            Err(_) => String::new(),
        }
    }

    /// Local wall-clock time at a UTC offset, as a spreadsheet reads it: `2026-12-06 16:00:05`.
    pub fn to_local(self, utc_offset_min: i32) -> String {
        let local = i128::from(self.0 + i64::from(utc_offset_min) * 60_000) * 1_000_000;
        match ::time::OffsetDateTime::from_unix_timestamp_nanos(local) {
            Ok(t) => {
                let fmt = ::time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute]:[second]"
                );
                t.format(&fmt).unwrap_or_default()
            }
            Err(_) => String::new(),
        }
    }
}

impl Serialize for Millis {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> serde::Deserialize<'de> for Millis {
    /// Reads back what [`Serialize`] wrote (RFC 3339, e.g. in stored JSON documents) or plain
    /// milliseconds.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Ms(i64),
            Text(String),
        }
        match Wire::deserialize(d)? {
            Wire::Ms(ms) => Ok(Millis(ms)),
            Wire::Text(s) => {
                let t = ::time::OffsetDateTime::parse(
                    &s,
                    &::time::format_description::well_known::Rfc3339,
                )
                .map_err(serde::de::Error::custom)?;
                Ok(Millis((t.unix_timestamp_nanos() / 1_000_000) as i64))
            }
        }
    }
}

impl utoipa::PartialSchema for Millis {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .into()
    }
}
impl utoipa::ToSchema for Millis {}

/// Where "now" comes from for rules that depend on the time of day (SLA clocks, escalation). The
/// server uses [`SystemClock`]; tests that must compute due times exactly use [`ManualClock`].
pub trait Clock: Send + Sync {
    fn now(&self) -> Millis;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        Millis::now()
    }
}

/// A clock that stands still until moved (tests).
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn new(at: Millis) -> Self {
        ManualClock(std::sync::atomic::AtomicI64::new(at.0))
    }
    pub fn set(&self, at: Millis) {
        self.0.store(at.0, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        Millis(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn formats_rfc3339_with_millis() {
        assert_eq!(Millis(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Millis(1_700_000_000_123).to_rfc3339(),
            "2023-11-14T22:13:20.123Z"
        );
    }

    #[test]
    fn reads_back_what_it_writes() {
        let t = Millis(1_700_000_000_123);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Millis>(&json).unwrap(), t);
        assert_eq!(serde_json::from_str::<Millis>("42").unwrap(), Millis(42));
        assert!(serde_json::from_str::<Millis>("\"yesterday\"").is_err());
    }
}
