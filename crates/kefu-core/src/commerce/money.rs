//! Money as text: yuan amounts like `199.00` to integer cents and back, exactly (no floats).

use crate::{Error, Result};

/// The largest amount accepted anywhere, in cents (one hundred billion yuan): far beyond any
/// order, far below where sums of many orders could overflow `i64`.
pub const MAX_CENTS: i64 = 10_000_000_000_000;

/// Parses a non-negative amount in major units (`199`, `199.5`, `199.00`, `¥1299.00`) into cents.
/// At most two decimals; no signs, exponents, or thousands separators.
pub fn parse_yuan(field: &str, s: &str) -> Result<i64> {
    let bad = || {
        Error::validation(format!(
            "{field}: must be an amount like 199.00 (at most 2 decimals)"
        ))
    };
    let t = s.trim();
    let t = t
        .strip_prefix('¥')
        .or_else(|| t.strip_prefix('￥'))
        .unwrap_or(t)
        .trim();
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, f),
        None => (t, ""),
    };
    if whole.is_empty()
        || whole.len() > 12
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (t.ends_with('.'))
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
        _ => frac.parse().map_err(|_| bad())?,
    };
    let cents = whole * 100 + frac;
    if cents > MAX_CENTS {
        return Err(Error::validation(format!("{field}: amount is too large")));
    }
    Ok(cents)
}

/// Formats cents as a yuan amount with two decimals (`19900` → `199.00`).
pub fn format_yuan(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(parse_yuan("p", "199.00").unwrap(), 19900);
        assert_eq!(parse_yuan("p", "199").unwrap(), 19900);
        assert_eq!(parse_yuan("p", "0.1").unwrap(), 10);
        assert_eq!(parse_yuan("p", "0.07").unwrap(), 7);
        assert_eq!(parse_yuan("p", " ¥1299.99 ").unwrap(), 129999);
        // 0.1 + 0.2 style float trouble cannot happen: 19.99 is exactly 1999.
        assert_eq!(parse_yuan("p", "19.99").unwrap(), 1999);
        for bad in ["", "-1", "1.234", "1,299.00", "1e3", "abc", ".5", "5.", "¥"] {
            let e = parse_yuan("unit_price", bad).unwrap_err();
            assert!(e.message.starts_with("unit_price:"), "{bad}: {}", e.message);
        }
        assert!(parse_yuan("p", "999999999999.99").is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(format_yuan(19900), "199.00");
        assert_eq!(format_yuan(7), "0.07");
        assert_eq!(format_yuan(-150), "-1.50");
    }

    proptest! {
        #[test]
        fn round_trip(cents in 0i64..=MAX_CENTS) {
            prop_assert_eq!(parse_yuan("p", &format_yuan(cents)).unwrap(), cents);
        }

        #[test]
        fn one_decimal_is_tens_of_cents(whole in 0i64..1_000_000, d in 0i64..10) {
            prop_assert_eq!(parse_yuan("p", &format!("{whole}.{d}")).unwrap(), whole * 100 + d * 10);
        }
    }
}
