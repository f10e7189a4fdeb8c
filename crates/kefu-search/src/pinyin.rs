//! Pinyin keys for Chinese text and the matcher of the composer's script picker.
//!
//! Agents on a Chinese keyboard find a script faster by typing Latin letters than by switching input
//! methods: `tk` (initials) or `tuikuan` (full pinyin, no tones) should find 退款 scripts. [`PinyinKey`]
//! turns a text into both forms once; [`rank_script`] scores one script for a query with a fixed order
//! of evidence: shortcut > title > pinyin of the title > body > pinyin of the body.
//!
//! Polyphonic characters take their most common reading (the `pinyin` crate's first); shop words
//! such as 退款, 发货, 尺码 are unambiguous, and a wrong rare reading only costs a missed pinyin hit.

use pinyin::ToPinyin;

/// A text's full pinyin (syllables without tones, concatenated, lower case) and its initials.
/// Latin letters and digits are kept (lower case) in both; everything else (spaces, punctuation,
/// characters without a reading) is dropped, so `退款 流程` gives `tuikuanliucheng` / `tklc`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinyinKey {
    pub full: String,
    pub initials: String,
}

impl PinyinKey {
    pub fn of(text: &str) -> PinyinKey {
        let mut key = PinyinKey::default();
        for (ch, py) in text.chars().zip(text.to_pinyin()) {
            match py {
                Some(p) => {
                    key.full.push_str(p.plain());
                    key.initials.push_str(p.first_letter());
                }
                None if ch.is_ascii_alphanumeric() => {
                    let c = ch.to_ascii_lowercase();
                    key.full.push(c);
                    key.initials.push(c);
                }
                None => {}
            }
        }
        key
    }
}

/// Whether a query can be pinyin: Latin letters only (digits and CJK are matched as text).
pub fn is_pinyin_query(q: &str) -> bool {
    !q.is_empty() && q.chars().all(|c| c.is_ascii_lowercase())
}

/// What the picker searches in one script. Build the pinyin keys once per script
/// ([`ScriptKeys::new`]) when ranking many queries against one library.
#[derive(Debug, Clone)]
pub struct ScriptKeys {
    pub shortcut: String,
    pub title: String,
    pub body: String,
    pub title_pinyin: PinyinKey,
    pub body_pinyin: PinyinKey,
}

impl ScriptKeys {
    pub fn new(shortcut: Option<&str>, title: &str, body: &str) -> ScriptKeys {
        ScriptKeys {
            shortcut: shortcut.unwrap_or("").to_lowercase(),
            title: title.to_lowercase(),
            body: body.to_lowercase(),
            title_pinyin: PinyinKey::of(title),
            body_pinyin: PinyinKey::of(body),
        }
    }
}

/// Normalises a picker query: trimmed, lower case, inner spaces removed for pinyin (agents type
/// `tui kuan` as often as `tuikuan`).
pub fn normalize_query(q: &str) -> String {
    q.trim().to_lowercase()
}

/// The score of a script for a normalised query, higher is better; `None` when nothing matches.
/// The tiers never overlap, so a shortcut hit always beats a title hit, which always beats a
/// pinyin hit, which always beats a body hit; within a tier, earlier and tighter matches win.
pub fn rank_script(query: &str, keys: &ScriptKeys) -> Option<u32> {
    if query.is_empty() {
        return None;
    }
    if !keys.shortcut.is_empty() {
        if keys.shortcut == query {
            return Some(10_000);
        }
        if keys.shortcut.starts_with(query) {
            return Some(9_000);
        }
    }
    if let Some(pos) = keys.title.find(query) {
        return Some(8_000 + position_bonus(pos));
    }
    let compact: String = query.chars().filter(|c| !c.is_whitespace()).collect();
    if is_pinyin_query(&compact) {
        let t = &keys.title_pinyin;
        if t.initials.starts_with(&compact) {
            return Some(7_500);
        }
        if t.full.starts_with(&compact) {
            return Some(7_400);
        }
        if let Some(pos) = t.initials.find(&compact) {
            return Some(7_000 + position_bonus(pos));
        }
        // A full-pinyin substring must be long enough to mean something (`an`, `en` are in
        // nearly every title).
        if compact.len() >= 3
            && let Some(pos) = t.full.find(&compact)
        {
            return Some(6_500 + position_bonus(pos));
        }
    }
    if let Some(pos) = keys.body.find(query) {
        return Some(5_000 + position_bonus(pos));
    }
    if is_pinyin_query(&compact) {
        let b = &keys.body_pinyin;
        // Short initials hit by chance across word boundaries in a long body: only full pinyin of
        // a few letters or initials of three or more.
        if compact.len() >= 4
            && let Some(pos) = b.full.find(&compact)
        {
            return Some(3_000 + position_bonus(pos));
        }
        if compact.len() >= 3
            && let Some(pos) = b.initials.find(&compact)
        {
            return Some(2_000 + position_bonus(pos));
        }
    }
    None
}

/// Up to 500 points for matching near the start.
fn position_bonus(byte_pos: usize) -> u32 {
    500u32.saturating_sub(byte_pos.min(500) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_pinyin_and_initials() {
        let k = PinyinKey::of("退款 流程");
        assert_eq!(k.full, "tuikuanliucheng");
        assert_eq!(k.initials, "tklc");
        let mixed = PinyinKey::of("iPhone 15 退货！");
        assert_eq!(mixed.full, "iphone15tuihuo");
        assert_eq!(mixed.initials, "iphone15th");
    }

    #[test]
    fn initials_and_full_pinyin_find_refund_scripts() {
        let refund = ScriptKeys::new(None, "退款进度说明", "您的退款已经提交，请耐心等待。");
        let greet = ScriptKeys::new(Some("hi"), "欢迎光临", "您好，欢迎光临本店！");
        for q in ["tk", "tuikuan", "tuik", "tui kuan"] {
            let q = normalize_query(q);
            assert!(rank_script(&q, &refund).is_some(), "{q}");
            assert!(rank_script(&q, &greet).is_none(), "{q}");
        }
    }

    #[test]
    fn tiers_order_shortcut_title_pinyin_body() {
        let by_shortcut = ScriptKeys::new(Some("tk"), "售后政策", "七天无理由");
        let by_title = ScriptKeys::new(None, "tk 专用说明", "x");
        let by_pinyin = ScriptKeys::new(None, "退款说明", "x");
        let by_body = ScriptKeys::new(None, "售后", "如需退款请联系我们");
        let q = "tk";
        let s: Vec<u32> = [&by_shortcut, &by_title, &by_pinyin]
            .iter()
            .map(|k| rank_script(q, k).unwrap())
            .collect();
        assert!(s[0] > s[1] && s[1] > s[2], "{s:?}");
        let body = rank_script("退款", &by_body).unwrap();
        let title = rank_script("退款", &by_pinyin).unwrap();
        assert!(title > body);
        // "tuikuan" in a body's full pinyin still matches, below any title hit.
        let body_py = rank_script("tuikuan", &by_body).unwrap();
        assert!(body_py < rank_script("tuikuan", &by_pinyin).unwrap());
    }

    #[test]
    fn shortcut_prefix_and_no_match() {
        let k = ScriptKeys::new(Some("refund-fast"), "退款", "b");
        assert_eq!(rank_script("refund-fast", &k), Some(10_000));
        assert_eq!(rank_script("refund", &k), Some(9_000));
        assert_eq!(rank_script("zzz", &k), None);
        assert_eq!(rank_script("", &k), None);
    }

    #[test]
    fn short_initials_do_not_match_bodies() {
        // "退款" in the body, but two-letter initials are too noisy for bodies.
        let k = ScriptKeys::new(None, "售后", "可以申请退款");
        assert_eq!(rank_script("tk", &k), None);
        assert!(rank_script("sqtk", &k).is_some());
    }
}
