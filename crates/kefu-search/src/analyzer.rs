//! The text analyzer: Chinese + English + mixed e-commerce text → normalised terms with byte offsets.
//!
//! Steps, in order:
//! 1. Full-width ASCII (`ＡＢＣ１２３！`) and the ideographic space become half-width; everything is
//!    lower-cased. Offsets always point into the *original* text (highlighting needs them).
//! 2. Anonymisation placeholders of the corpora and of kefu's own templates (`[数字x]`, `[姓名x]`,
//!    `[ORDERID_123]`, `#E-s[数字x]` …) become one class term each (`#num`, `#name`, `#order`,
//!    `#emoji` …) instead of being cut into meaningless pieces.
//! 3. The rest is cut by jieba (HMM on, so unknown words such as brand names stay whole).
//! 4. jieba also emits whitespace and punctuation: only tokens that contain CJK ideographs or ASCII
//!    alphanumerics are kept. A mixed token (`iphone12`, `3.5kg`) is split at every non-alphanumeric
//!    character; English words are stemmed (Snowball), digit runs are kept as they are (a phone or order
//!    number must find its customer later).
//! 5. Optionally (ranking, not search) stop words are dropped.
//!
//! The analyzer owns no global state: build one with [`Analyzer::new`] (loading jieba's dictionary takes
//! a few hundred milliseconds) and share it by reference. A tantivy `Tokenizer` can wrap
//! [`Analyzer::analyze`] directly, since every [`Token`] carries its byte offsets and position.

use jieba_rs::Jieba;
use rust_stemmers::{Algorithm, Stemmer};

/// One analysed term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The normalised term (lower-case, stemmed, or a `#class` for a placeholder).
    pub text: String,
    /// Byte offset of the first byte in the original text.
    pub from: usize,
    /// Byte offset one past the last byte in the original text.
    pub to: usize,
    /// Position of the term among the kept terms (0, 1, 2 …).
    pub position: usize,
}

/// Chinese + English analyzer; see the module documentation.
pub struct Analyzer {
    jieba: Jieba,
    stemmer: Stemmer,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Analyzer")
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

/// Words that carry no topic in shop chat: particles, pronouns, politeness. Dropped by
/// [`Analyzer::terms`] (ranking) but kept by [`Analyzer::analyze`] (search must find them literally).
const STOP_WORDS: &[&str] = &[
    // Chinese particles, pronouns, fillers
    "的", "了", "吗", "呢", "哦", "噢", "喔", "啊", "吧", "呀", "哈", "哈哈", "嗯", "恩", "嗯嗯",
    "额", "呃", "么", "嘛", "啦", "哒", "滴", "地", "得", "着", "过", "和", "与", "及", "或", "是",
    "在", "有", "也", "都", "就", "还", "又", "我", "你", "您", "他", "她", "它", "我们", "你们",
    "咱们", "这", "那", "这个", "那个", "一下", "一个", "亲", "亲亲", "请", "请问", "麻烦", "好",
    "好的", "吧", "哟", // English
    "a", "an", "the", "is", "are", "was", "be", "to", "of", "and", "or", "in", "on", "at", "for",
    "it", "i", "you", "me", "my", "we", "your", "this", "that", "do", "doe", "did", "can", "pleas",
    "pls", "hi", "with", "so", "if", "my", "am",
];

impl Analyzer {
    /// An analyzer with jieba's default dictionary and the English Snowball stemmer.
    pub fn new() -> Self {
        Self {
            jieba: Jieba::new(),
            stemmer: Stemmer::create(Algorithm::English),
        }
    }

    /// Every term of `text`, with offsets; nothing dropped but punctuation and whitespace.
    pub fn analyze(&self, text: &str) -> Vec<Token> {
        let norm = Normalized::new(text);
        let mut out = Vec::new();
        let mut rest = 0;
        while rest < norm.text.len() {
            match find_placeholder(&norm.text[rest..]) {
                Some((start, end, class)) => {
                    self.cut_plain(&norm, rest, rest + start, &mut out);
                    let (from, to) = norm.original_span(rest + start, rest + end);
                    out.push(Token {
                        text: class.to_owned(),
                        from,
                        to,
                        position: out.len(),
                    });
                    rest += end;
                }
                None => {
                    self.cut_plain(&norm, rest, norm.text.len(), &mut out);
                    break;
                }
            }
        }
        out
    }

    /// The terms of `text` for ranking: [`Analyzer::analyze`] without stop words and offsets.
    pub fn terms(&self, text: &str) -> Vec<String> {
        self.analyze(text)
            .into_iter()
            .map(|t| t.text)
            .filter(|t| !is_stop_word(t))
            .collect()
    }

    fn cut_plain(&self, norm: &Normalized, start: usize, end: usize, out: &mut Vec<Token>) {
        if start >= end {
            return;
        }
        let piece = &norm.text[start..end];
        let base = piece.as_ptr() as usize;
        for word in self.jieba.cut(piece, true) {
            let off = start + (word.as_ptr() as usize - base);
            if word.chars().any(is_cjk) {
                // jieba may glue CJK to ASCII (rarely); keep CJK words whole.
                let kept: String = word
                    .chars()
                    .filter(|c| is_cjk(*c) || c.is_ascii_alphanumeric())
                    .collect();
                let (from, to) = norm.original_span(off, off + word.len());
                out.push(Token {
                    text: kept,
                    from,
                    to,
                    position: out.len(),
                });
                continue;
            }
            // ASCII-ish token: split at every non-alphanumeric char, then at letter/digit borders.
            for (i, part) in split_alnum(word) {
                let (from, to) = norm.original_span(off + i, off + i + part.len());
                let text = if part.bytes().all(|b| b.is_ascii_alphabetic()) {
                    self.stemmer.stem(part).into_owned()
                } else {
                    part.to_owned()
                };
                out.push(Token {
                    text,
                    from,
                    to,
                    position: out.len(),
                });
            }
        }
    }
}

/// True for terms [`Analyzer::terms`] drops.
pub fn is_stop_word(term: &str) -> bool {
    STOP_WORDS.contains(&term)
}

/// CJK unified ideographs (basic block and extension A) and compatibility ideographs.
fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// Runs of ASCII letters or of ASCII digits (with `.` inside a number kept: `3.5`), with byte offsets.
fn split_alnum(word: &str) -> Vec<(usize, &str)> {
    #[derive(PartialEq, Clone, Copy)]
    enum Kind {
        Alpha,
        Digit,
        Other,
    }
    let kind = |c: char| {
        if c.is_ascii_alphabetic() {
            Kind::Alpha
        } else if c.is_ascii_digit() {
            Kind::Digit
        } else {
            Kind::Other
        }
    };
    let bytes = word.as_bytes();
    let mut out = Vec::new();
    let mut start: Option<(usize, Kind)> = None;
    for (i, c) in word.char_indices() {
        let mut k = kind(c);
        // a decimal point between digits stays inside the number
        if c == '.'
            && matches!(start, Some((_, Kind::Digit)))
            && bytes.get(i + 1).is_some_and(|b| b.is_ascii_digit())
        {
            k = Kind::Digit;
        }
        match start {
            Some((_, sk)) if sk == k => {}
            Some((s, _)) => {
                out.push((s, &word[s..i]));
                start = (k != Kind::Other).then_some((i, k));
            }
            None => start = (k != Kind::Other).then_some((i, k)),
        }
    }
    if let Some((s, _)) = start {
        out.push((s, &word[s..]));
    }
    out
}

/// Known placeholder names (inside `[…]`) → class term.
const PLACEHOLDERS: &[(&str, &str)] = &[
    ("数字x", "#num"),
    ("姓名x", "#name"),
    ("金额x", "#money"),
    ("日期x", "#date"),
    ("时间x", "#time"),
    ("站点x", "#site"),
    ("电话x", "#phone"),
    ("地址x", "#address"),
    ("链接x", "#link"),
    ("邮箱x", "#email"),
    ("商品快照", "#product"),
];

/// The first placeholder in `s`: (start, end, class). `#E-s[数字x]` (an emoticon) counts as one.
fn find_placeholder(s: &str) -> Option<(usize, usize, &'static str)> {
    let mut from = 0;
    while let Some(i) = s[from..].find('[') {
        let open = from + i;
        let j = s[open..].find(']')?;
        let close = open + j;
        let inner = &s[open + 1..close];
        let class = PLACEHOLDERS
            .iter()
            .find(|(name, _)| *name == inner)
            .map(|(_, c)| *c)
            .or_else(|| {
                let rest = inner.strip_prefix("orderid_")?;
                rest.bytes().all(|b| b.is_ascii_digit()).then_some("#order")
            });
        if let Some(class) = class {
            // "#e-s[数字x]" (lower-cased) is an emoticon code in the JD corpus
            let emoji_start = open.checked_sub(4).filter(|&e| {
                s.is_char_boundary(e)
                    && s[e..open].starts_with("#e-")
                    && s.as_bytes()[open - 1].is_ascii_alphabetic()
            });
            return Some(match emoji_start {
                Some(e) => (e, close + 1, "#emoji"),
                None => (open, close + 1, class),
            });
        }
        from = open + 1;
    }
    None
}

/// The text after width folding and lower-casing, with a map back to original byte offsets.
struct Normalized {
    text: String,
    /// For each char of `text`: (byte offset in `text`, byte offset in the original, original char length).
    map: Vec<(usize, usize, usize)>,
    original_len: usize,
}

impl Normalized {
    fn new(original: &str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut map = Vec::with_capacity(original.len());
        for (i, c) in original.char_indices() {
            let folded = match c {
                '\u{3000}' => ' ',
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                _ => c,
            };
            for l in folded.to_lowercase() {
                map.push((text.len(), i, c.len_utf8()));
                text.push(l);
            }
        }
        Self {
            text,
            map,
            original_len: original.len(),
        }
    }

    /// Original byte span of the normalised span `from..to`.
    fn original_span(&self, from: usize, to: usize) -> (usize, usize) {
        let at = |pos: usize| self.map.partition_point(|&(n, _, _)| n < pos);
        let a = self.map.get(at(from)).map_or(self.original_len, |m| m.1);
        let b = match at(to) {
            0 => a,
            k => {
                let m = self.map[k - 1];
                m.1 + m.2
            }
        };
        (a, b.max(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn analyzer() -> &'static Analyzer {
        // one dictionary load for the whole test binary (tests only; the product passes it explicitly)
        static A: OnceLock<Analyzer> = OnceLock::new();
        A.get_or_init(Analyzer::new)
    }

    fn texts(s: &str) -> Vec<String> {
        analyzer().analyze(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn tuihuo_is_one_word_and_matches_the_question() {
        assert_eq!(texts("退货"), ["退货"]);
        let q = texts("我想退货怎么办？");
        assert!(q.contains(&"退货".to_owned()), "{q:?}");
        assert!(
            !q.iter()
                .any(|t| t.trim().is_empty() || t == "?" || t == "？"),
            "{q:?}"
        );
    }

    #[test]
    fn english_is_lowercased_and_stemmed() {
        assert_eq!(
            texts("Refunds REFUNDED refunding"),
            ["refund", "refund", "refund"]
        );
        assert_eq!(texts("shipping shipped"), ["ship", "ship"]);
    }

    #[test]
    fn mixed_text_and_full_width() {
        let t = texts("ｉＰｈｏｎｅ１２的屏幕有色差吗，3.5kg包邮？");
        assert!(t.contains(&"iphon".to_owned()), "{t:?}");
        assert!(t.contains(&"12".to_owned()), "{t:?}");
        assert!(t.contains(&"色差".to_owned()), "{t:?}");
        assert!(t.contains(&"3.5".to_owned()), "{t:?}");
        assert!(t.contains(&"kg".to_owned()), "{t:?}");
        assert!(t.contains(&"包邮".to_owned()), "{t:?}");
    }

    #[test]
    fn placeholders_become_classes() {
        let t = texts("[姓名x]您好，订单[ORDERID_10086]已发货，#E-s[数字x]共[数字x]件");
        assert_eq!(t.iter().filter(|x| *x == "#name").count(), 1, "{t:?}");
        assert!(t.contains(&"#order".to_owned()), "{t:?}");
        assert!(t.contains(&"#emoji".to_owned()), "{t:?}");
        assert!(t.contains(&"#num".to_owned()), "{t:?}");
        assert!(
            !t.iter()
                .any(|x| x == "x" || x == "e" || x == "s" || x == "数字"),
            "{t:?}"
        );
    }

    #[test]
    fn phone_numbers_stay_whole() {
        assert!(texts("我的电话13812345678").contains(&"13812345678".to_owned()));
    }

    #[test]
    fn offsets_point_into_the_original() {
        let s = "Ｈｉ，我想退货";
        for t in analyzer().analyze(s) {
            let orig = &s[t.from..t.to];
            assert!(!orig.is_empty(), "{t:?}");
            if t.text == "退货" {
                assert_eq!(orig, "退货");
            }
        }
        let t = analyzer().analyze(s);
        assert_eq!(&s[t[0].from..t[0].to], "Ｈｉ");
    }

    #[test]
    fn terms_drop_stop_words() {
        let t = analyzer().terms("亲，这个的质量好吗");
        assert!(t.contains(&"质量".to_owned()), "{t:?}");
        assert!(
            !t.iter().any(|x| x == "的" || x == "吗" || x == "亲"),
            "{t:?}"
        );
    }
}
