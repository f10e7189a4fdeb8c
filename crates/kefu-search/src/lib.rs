//! kefu-search: text analysis and reply suggestions.
//!
//! Owns the Chinese + English [`Analyzer`] (jieba segmentation, width folding, English stemming,
//! placeholder classes), the rule-based intent [`CueDetector`] over the script categories, and the
//! [`pinyin`] keys and the script picker's matcher, the reply-ranking [`Engine`] that ranks service scripts (话术) for a conversation, learning from past
//! shopper-message → agent-reply pairs. [`eval`] measures the engine on JSON-lines items.
//!
//! Pure library: no axum, no sqlx, no tokio. Full-text search ([`index`], tantivy) wraps the same
//! [`Analyzer`]; its only I/O is the index directory.

pub mod analyzer;
pub mod cues;
pub mod eval;
pub mod index;
pub mod pinyin;
pub mod rank;

pub use analyzer::{Analyzer, Token};
pub use cues::{Category, CueDetector};
pub use rank::{Candidate, Engine, Feature, HistoryPair, Params};
