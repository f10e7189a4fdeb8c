//! Full-text search: a tantivy index over messages, conversations, customers and scripts.
//!
//! * Text goes through the same [`Analyzer`] as ranking (jieba + width folding + English stemming),
//!   wrapped as the tantivy tokenizer `kefu`, so `退货` finds `我想退货怎么办` and `refunds` finds
//!   `refund`.
//! * Names and titles also get pinyin terms (`pinyin` field: full pinyin of the whole text and of
//!   each word, and the initials), so `zhangsan` or `zs` find 张三.
//! * Identifiers (phones, e-mails, external ids, order numbers) go to the `ids` field as whole
//!   normalised values (only ASCII letters and digits, lower-case; e-mails keep `@` and `.`) plus
//!   their suffixes of at least [`MIN_SUFFIX`] characters (the last 4 digits of a phone) and, for order
//!   numbers, prefixes of at least [`MIN_ORDER_PREFIX`] characters. Digits therefore match whole
//!   values, tails and order-number heads, never arbitrary middles.
//! * Every document carries `shop_id`; every query is filtered by it. Conversation-level filters
//!   (status, channel, assignee, team) and the agent entitlement apply to messages through their
//!   conversation's document (a join inside the index), and the tag filter through the
//!   conversation's own tags or its customer's, so a conversation update never rewrites its
//!   messages.
//! * User queries are parsed here, never by tantivy's query parser: terms through the analyzer,
//!   `"quoted phrases"`, and nothing else; any input yields a (possibly empty) result, never an error.
//!
//! Pure and synchronous; the server runs it on blocking threads.

use crate::analyzer::Analyzer;
use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tantivy::collector::{Collector, SegmentCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::tokenizer::{TextAnalyzer, Token as TToken, TokenStream, Tokenizer};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentOrdinal,
    SegmentReader, TantivyDocument, Term,
};

/// Shortest identifier tail that is indexed (the last 4 digits of a phone).
pub const MIN_SUFFIX: usize = 4;
/// Shortest order-number head that is indexed.
pub const MIN_ORDER_PREFIX: usize = 6;
/// Longest query accepted, in characters; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most query terms used; the rest are ignored.
pub const MAX_QUERY_TERMS: usize = 16;
/// Most results per kind.
pub const MAX_LIMIT: usize = 50;
/// Characters of context around the first match in a snippet.
const SNIPPET_CHARS: usize = 90;
/// Heap for the index writer (tantivy's minimum is 15 MB per thread).
const WRITER_HEAP: usize = 64 * 1024 * 1024;

/// Errors of the index (I/O, corruption). Query syntax never errors.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index: {0}")]
    Io(#[from] std::io::Error),
    #[error("search index: {0}")]
    Other(String),
}

impl From<tantivy::directory::error::OpenDirectoryError> for IndexError {
    fn from(e: tantivy::directory::error::OpenDirectoryError) -> Self {
        IndexError::Other(e.to_string())
    }
}

pub type IndexResult<T> = std::result::Result<T, IndexError>;

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocKind {
    Message,
    Conversation,
    Customer,
    Script,
}

impl DocKind {
    pub const ALL: [DocKind; 4] = [
        DocKind::Message,
        DocKind::Conversation,
        DocKind::Customer,
        DocKind::Script,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Message => "message",
            DocKind::Conversation => "conversation",
            DocKind::Customer => "customer",
            DocKind::Script => "script",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        DocKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn key(self, id: i64) -> String {
        format!("{}:{id}", &self.as_str()[..2])
    }
}

/// A message as indexed.
#[derive(Debug, Clone)]
pub struct MessageDoc {
    pub id: i64,
    pub shop_id: i64,
    pub conversation_id: i64,
    /// `customer`, `agent`, `bot`, `system`.
    pub sender_type: String,
    pub sender_name: String,
    pub private: bool,
    pub body: String,
    pub created_at: i64,
}

/// A conversation as indexed (its text: the customer's name, its assignee and its tags). Not its
/// last message: that is a message document of its own, and indexing it here again would mean
/// re-indexing the conversation on every message (see `updated_at` in the stores' message path).
#[derive(Debug, Clone)]
pub struct ConversationDoc {
    pub id: i64,
    pub shop_id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub status: String,
    pub channel: String,
    pub assignee_id: Option<i64>,
    pub assignee_name: Option<String>,
    pub team_id: Option<i64>,
    /// The conversation's own tags (the `tag` filter also matches its customer's).
    pub tags: Vec<String>,
    pub created_at: i64,
}

/// A customer as indexed.
#[derive(Debug, Clone, Default)]
pub struct CustomerDoc {
    pub id: i64,
    pub shop_id: i64,
    pub name: String,
    /// Phones, e-mails and external ids, as stored.
    pub contacts: Vec<String>,
    /// The customer's order numbers (most recent first; the caller caps them).
    pub order_nos: Vec<String>,
    pub tags: Vec<String>,
    pub created_at: i64,
}

/// Any other document (scripts): a title, a body and tags, optionally owned by one agent.
#[derive(Debug, Clone)]
pub struct GenericDoc {
    pub kind: DocKind,
    pub id: i64,
    pub shop_id: i64,
    /// `None` = shop-wide; `Some(agent)` = only that agent finds it.
    pub owner_id: Option<i64>,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub created_at: i64,
}

/// One change to the index.
#[derive(Debug, Clone)]
pub enum Op {
    Message(MessageDoc),
    Conversation(ConversationDoc),
    Customer(CustomerDoc),
    Generic(GenericDoc),
    Delete(DocKind, i64),
}

/// Who is searching: agents see their own and unassigned conversations (and their messages),
/// supervisors and admins the whole shop.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub agent_id: i64,
    pub sees_whole_shop: bool,
}

/// A search request; see [`SearchIndex::search`].
#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub shop_id: i64,
    pub viewer: Viewer,
    pub text: String,
    /// Empty = every kind.
    pub kinds: Vec<DocKind>,
    pub status: Option<String>,
    pub channel: Option<String>,
    /// Conversations assigned to this agent (`Some(0)`: unassigned ones).
    pub agent_id: Option<i64>,
    pub team_id: Option<i64>,
    /// Created at or after (ms).
    pub from: Option<i64>,
    /// Created before (ms).
    pub to: Option<i64>,
    pub tag: Option<String>,
    /// Per kind; clamped to 1..=[`MAX_LIMIT`].
    pub limit: usize,
}

/// A highlighted piece of text: `highlights` are `[from, to)` offsets in UTF-16 code units of
/// `text` (what JavaScript's `String.slice` takes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Snippet {
    pub text: String,
    pub highlights: Vec<(usize, usize)>,
}

/// One hit.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Hit {
    pub kind: &'static str,
    pub id: i64,
    pub score: f32,
    /// The conversation to open (messages, conversations).
    pub conversation_id: Option<i64>,
    /// The customer (conversations, customers; messages when their conversation is indexed).
    pub customer_id: Option<i64>,
    /// A heading: customer name, script title, sender of a message.
    pub title: String,
    pub snippet: Snippet,
    pub created_at: i64,
    /// Conversation status (conversations, messages) when known.
    pub status: Option<String>,
    /// A private note (messages).
    pub private: bool,
}

/// Hits grouped by kind, in the order of [`DocKind::ALL`]; kinds not asked for are absent.
#[derive(Debug, Clone)]
pub struct SearchResults {
    pub groups: Vec<(DocKind, Vec<Hit>)>,
}

#[derive(Clone, Copy)]
struct Fields {
    key: Field,
    kind: Field,
    id: Field,
    shop: Field,
    conv: Field,
    customer: Field,
    status: Field,
    channel: Field,
    assignee: Field,
    team: Field,
    owner: Field,
    private: Field,
    created: Field,
    title: Field,
    body: Field,
    extra: Field,
    pinyin: Field,
    ids: Field,
    tags: Field,
    meta: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |stored: bool| {
        let o = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored { o.set_stored() } else { o }
    };
    let num = INDEXED | STORED | FAST;
    let f = Fields {
        key: b.add_text_field("key", STRING),
        kind: b.add_text_field("kind", STRING | STORED),
        id: b.add_i64_field("id", num.clone()),
        shop: b.add_i64_field("shop_id", INDEXED | FAST),
        conv: b.add_i64_field("conversation_id", num.clone()),
        customer: b.add_i64_field("customer_id", num.clone()),
        status: b.add_text_field("status", STRING | STORED),
        channel: b.add_text_field("channel", STRING | STORED),
        assignee: b.add_i64_field("assignee_id", INDEXED | STORED),
        team: b.add_i64_field("team_id", INDEXED | STORED),
        owner: b.add_i64_field("owner_id", INDEXED),
        private: b.add_i64_field("private", INDEXED | STORED),
        created: b.add_i64_field("created_at", num),
        title: b.add_text_field("title", text(true)),
        body: b.add_text_field("body", text(true)),
        extra: b.add_text_field("extra", text(false)),
        pinyin: b.add_text_field("pinyin", STRING),
        ids: b.add_text_field("ids", STRING),
        tags: b.add_text_field("tags", STRING),
        meta: b.add_text_field("meta", STORED),
    };
    (b.build(), f)
}

const TOKENIZER: &str = "kefu";

/// The [`Analyzer`] as a tantivy tokenizer (same terms, offsets and positions).
#[derive(Clone)]
pub struct KefuTokenizer(Arc<Analyzer>);

impl KefuTokenizer {
    pub fn new(analyzer: Arc<Analyzer>) -> Self {
        Self(analyzer)
    }
}

pub struct KefuTokenStream {
    tokens: Vec<TToken>,
    at: usize,
}

impl Tokenizer for KefuTokenizer {
    type TokenStream<'a> = KefuTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> KefuTokenStream {
        let mut tokens = Vec::new();
        for t in self.0.analyze(text) {
            let original = &text[t.from..t.to];
            // jieba's HMM glues unknown runs into long words (`很着急`); the words inside must
            // still be found (`着急`), so every CJK bigram of a longer word is indexed at the
            // word's position too (phrases keep working: positions do not move).
            let glued = original == t.text
                && t.text.chars().count() >= 3
                && t.text.chars().all(is_cjk_char);
            if glued {
                let idx: Vec<usize> = original.char_indices().map(|(i, _)| i).collect();
                for w in idx
                    .windows(3)
                    .map(|w| (w[0], w[2]))
                    .chain(std::iter::once((idx[idx.len() - 2], original.len())))
                {
                    tokens.push(TToken {
                        offset_from: t.from + w.0,
                        offset_to: t.from + w.1,
                        position: t.position,
                        text: original[w.0..w.1].to_owned(),
                        position_length: 1,
                    });
                }
            }
            tokens.push(TToken {
                offset_from: t.from,
                offset_to: t.to,
                position: t.position,
                text: t.text,
                position_length: 1,
            });
        }
        KefuTokenStream { tokens, at: 0 }
    }
}

fn is_cjk_char(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

impl TokenStream for KefuTokenStream {
    fn advance(&mut self) -> bool {
        self.at += 1;
        self.at <= self.tokens.len()
    }
    fn token(&self) -> &TToken {
        &self.tokens[self.at - 1]
    }
    fn token_mut(&mut self) -> &mut TToken {
        &mut self.tokens[self.at - 1]
    }
}

/// The search index. Writes go through [`SearchIndex::apply`] (one commit per call, with the
/// caller's cursor stored in the same commit); reads see every committed batch.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter<TantivyDocument>>,
    f: Fields,
    analyzer: Arc<Analyzer>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SearchIndex")
    }
}

impl SearchIndex {
    /// Opens the index in `dir`, creating an empty one when the directory is empty or missing.
    /// A corrupt index (or one of another schema) is an error: the caller rebuilds it with
    /// [`SearchIndex::create_fresh`].
    pub fn open_or_create(dir: &Path, analyzer: Arc<Analyzer>) -> IndexResult<Self> {
        std::fs::create_dir_all(dir)?;
        let (schema, _) = schema();
        let index = if std::fs::read_dir(dir)?.next().is_none() {
            Index::create_in_dir(dir, schema.clone())?
        } else {
            let index = Index::open_in_dir(dir)?;
            if index.schema() != schema {
                return Err(IndexError::Other("schema changed".into()));
            }
            index
        };
        let me = Self::with_index(index, analyzer)?;
        // Touch every segment's postings and stored fields once, so a damaged file shows now
        // (and is rebuilt) rather than on the first search.
        me.check()?;
        Ok(me)
    }

    /// Removes whatever is in `dir` and creates an empty index there.
    pub fn create_fresh(dir: &Path, analyzer: Arc<Analyzer>) -> IndexResult<Self> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
        let index = Index::create_in_dir(dir, schema().0)?;
        Self::with_index(index, analyzer)
    }

    /// An index in memory (tests, benchmarks).
    pub fn in_memory(analyzer: Arc<Analyzer>) -> IndexResult<Self> {
        Self::with_index(Index::create_in_ram(schema().0), analyzer)
    }

    fn with_index(index: Index, analyzer: Arc<Analyzer>) -> IndexResult<Self> {
        index.tokenizers().register(
            TOKENIZER,
            TextAnalyzer::builder(KefuTokenizer::new(analyzer.clone())).build(),
        );
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        // One indexing thread: each thread writes its own segment per commit, and the indexer
        // commits small batches often; one thread keeps segments (and merges) few and still
        // indexes far more than the 2,000 messages/s asked for (docs/BENCHMARKS.md).
        let writer = index.writer_with_num_threads(1, WRITER_HEAP)?;
        let (_, f) = schema();
        Ok(Self {
            index,
            reader,
            writer: Mutex::new(writer),
            f,
            analyzer,
        })
    }

    fn check(&self) -> IndexResult<()> {
        let searcher = self.reader.searcher();
        for seg in searcher.segment_readers() {
            let inv = seg.inverted_index(self.f.body)?;
            let _ = inv.terms().num_terms();
            let store = seg.get_store_reader(1)?;
            if seg.max_doc() > 0 {
                store.get::<TantivyDocument>(seg.max_doc() - 1)?;
                store.get::<TantivyDocument>(0)?;
            }
        }
        searcher.search(&AllQuery, &tantivy::collector::Count)?;
        Ok(())
    }

    /// The payload stored with the last commit (the indexer's cursors), if any.
    pub fn payload(&self) -> IndexResult<Option<String>> {
        Ok(self.index.load_metas()?.payload)
    }

    /// Number of documents visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Applies `ops` (upserts replace the document with the same kind and id) and commits them
    /// with `payload`, then makes them visible to searches.
    pub fn apply(&self, ops: &[Op], payload: Option<&str>) -> IndexResult<()> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        for op in ops {
            let (kind, id) = match op {
                Op::Message(m) => (DocKind::Message, m.id),
                Op::Conversation(c) => (DocKind::Conversation, c.id),
                Op::Customer(c) => (DocKind::Customer, c.id),
                Op::Generic(g) => (g.kind, g.id),
                Op::Delete(k, id) => (*k, *id),
            };
            w.delete_term(Term::from_field_text(self.f.key, &kind.key(id)));
            if let Some(doc) = self.document(op) {
                w.add_document(doc)?;
            }
        }
        let mut commit = w.prepare_commit()?;
        if let Some(p) = payload {
            commit.set_payload(p);
        }
        commit.commit()?;
        drop(w);
        self.reader.reload()?;
        Ok(())
    }

    /// Adds documents known to be new (a rebuild or a benchmark load), without deleting first and
    /// without committing; call [`SearchIndex::apply`] (possibly with no ops) to commit.
    pub fn add_new(&self, ops: &[Op]) -> IndexResult<()> {
        let w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        for op in ops {
            if let Some(doc) = self.document(op) {
                w.add_document(doc)?;
            }
        }
        Ok(())
    }

    fn document(&self, op: &Op) -> Option<TantivyDocument> {
        let f = &self.f;
        let mut d = TantivyDocument::new();
        let (kind, id, shop, created) = match op {
            Op::Delete(..) => return None,
            Op::Message(m) => {
                d.add_i64(f.conv, m.conversation_id);
                d.add_i64(f.private, m.private as i64);
                d.add_text(f.title, &m.sender_name);
                d.add_text(f.body, &m.body);
                (DocKind::Message, m.id, m.shop_id, m.created_at)
            }
            Op::Conversation(c) => {
                d.add_i64(f.conv, c.id);
                d.add_i64(f.customer, c.customer_id);
                d.add_text(f.status, &c.status);
                d.add_text(f.channel, &c.channel);
                d.add_i64(f.assignee, c.assignee_id.unwrap_or(0));
                d.add_i64(f.team, c.team_id.unwrap_or(0));
                d.add_text(f.title, &c.customer_name);
                if let Some(a) = &c.assignee_name {
                    d.add_text(f.extra, a);
                }
                for t in &c.tags {
                    d.add_text(f.tags, t.to_lowercase());
                    d.add_text(f.extra, t);
                }
                for p in pinyin_terms(&c.customer_name) {
                    d.add_text(f.pinyin, &p);
                }
                (DocKind::Conversation, c.id, c.shop_id, c.created_at)
            }
            Op::Customer(c) => {
                d.add_i64(f.customer, c.id);
                d.add_text(f.title, &c.name);
                for p in pinyin_terms(&c.name) {
                    d.add_text(f.pinyin, &p);
                }
                let mut ids = HashSet::new();
                for v in &c.contacts {
                    id_terms(v, false, &mut ids);
                }
                for v in &c.order_nos {
                    id_terms(v, true, &mut ids);
                }
                for t in ids {
                    d.add_text(f.ids, &t);
                }
                for t in &c.tags {
                    d.add_text(f.tags, t.to_lowercase());
                    d.add_text(f.extra, t);
                }
                // Shown (and highlighted) in the snippet, but stored only: identifiers match
                // through `ids` (whole values, tails), never by their middle pieces.
                let mut shown = c.contacts.clone();
                shown.extend(c.order_nos.iter().take(5).cloned());
                d.add_text(f.meta, shown.join(" · "));
                (DocKind::Customer, c.id, c.shop_id, c.created_at)
            }
            Op::Generic(g) => {
                d.add_i64(f.owner, g.owner_id.unwrap_or(0));
                d.add_text(f.title, &g.title);
                d.add_text(f.body, &g.body);
                for p in pinyin_terms(&g.title) {
                    d.add_text(f.pinyin, &p);
                }
                for t in &g.tags {
                    d.add_text(f.tags, t.to_lowercase());
                    d.add_text(f.extra, t);
                }
                (g.kind, g.id, g.shop_id, g.created_at)
            }
        };
        d.add_text(f.key, kind.key(id));
        d.add_text(f.kind, kind.as_str());
        d.add_i64(f.id, id);
        d.add_i64(f.shop, shop);
        d.add_i64(f.created, created);
        Some(d)
    }

    /// Runs a search. Never fails on odd syntax: an unusable query gives empty groups.
    pub fn search(&self, q: &SearchQuery) -> IndexResult<SearchResults> {
        let parsed = parse_query(&self.analyzer, &q.text);
        let kinds: Vec<DocKind> = if q.kinds.is_empty() {
            DocKind::ALL.to_vec()
        } else {
            DocKind::ALL
                .into_iter()
                .filter(|k| q.kinds.contains(k))
                .collect()
        };
        let limit = q.limit.clamp(1, MAX_LIMIT);
        let searcher = self.reader.searcher();
        let mut groups = Vec::new();
        if parsed.is_empty() {
            return Ok(SearchResults {
                groups: kinds.into_iter().map(|k| (k, Vec::new())).collect(),
            });
        }
        let conv_filters = q.status.is_some()
            || q.channel.is_some()
            || q.agent_id.is_some()
            || q.team_id.is_some();
        // Customers with the tag (a join for conversations and messages, which also match by
        // the conversation's own tags).
        let tag_customers = match (
            &q.tag,
            kinds
                .iter()
                .any(|k| matches!(k, DocKind::Message | DocKind::Conversation)),
        ) {
            (Some(tag), true) => {
                let query = self.and(vec![
                    self.shop_kind(q.shop_id, DocKind::Customer),
                    term_text(self.f.tags, &tag.to_lowercase()),
                ]);
                Some(searcher.search(&query, &I64Values("customer_id"))?)
            }
            _ => None,
        };
        for kind in kinds {
            let text = self.text_query(&parsed, kind);
            let mut must = vec![self.shop_kind(q.shop_id, kind), text];
            if let Some(r) = self.date_range(q) {
                must.push(r);
            }
            match kind {
                DocKind::Conversation => {
                    must.extend(self.conversation_filters(q, tag_customers.as_ref()));
                }
                DocKind::Message => {
                    if conv_filters || tag_customers.is_some() || !q.viewer.sees_whole_shop {
                        let mut cm = vec![self.shop_kind(q.shop_id, DocKind::Conversation)];
                        cm.extend(self.conversation_filters(q, tag_customers.as_ref()));
                        let convs =
                            searcher.search(&self.and(cm), &I64Values("conversation_id"))?;
                        must.push(Box::new(TermSetQuery::new(
                            convs
                                .into_iter()
                                .map(|c| Term::from_field_i64(self.f.conv, c)),
                        )));
                    }
                }
                DocKind::Customer | DocKind::Script => {
                    if conv_filters {
                        // Conversation filters do not apply to customers or scripts: none match.
                        groups.push((kind, Vec::new()));
                        continue;
                    }
                    if let Some(tag) = &q.tag {
                        must.push(term_text(self.f.tags, &tag.to_lowercase()));
                    }
                    if kind == DocKind::Script {
                        must.push(self.or(vec![
                            term_i64(self.f.owner, 0),
                            term_i64(self.f.owner, q.viewer.agent_id),
                        ]));
                    }
                }
            }
            let query = self.and(must);
            let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
            let mut hits = Vec::with_capacity(top.len());
            for (score, addr) in top {
                hits.push(self.hit(&searcher, kind, score, addr, &parsed, q.shop_id)?);
            }
            groups.push((kind, hits));
        }
        Ok(SearchResults { groups })
    }

    fn conversation_filters(
        &self,
        q: &SearchQuery,
        tag_customers: Option<&Vec<i64>>,
    ) -> Vec<Box<dyn Query>> {
        let f = &self.f;
        let mut v: Vec<Box<dyn Query>> = Vec::new();
        if let Some(s) = &q.status {
            v.push(term_text(f.status, s));
        }
        if let Some(c) = &q.channel {
            v.push(term_text(f.channel, c));
        }
        if let Some(a) = q.agent_id {
            v.push(term_i64(f.assignee, a));
        }
        if let Some(t) = q.team_id {
            v.push(term_i64(f.team, t));
        }
        if !q.viewer.sees_whole_shop {
            v.push(self.or(vec![
                term_i64(f.assignee, 0),
                term_i64(f.assignee, q.viewer.agent_id),
            ]));
        }
        if let (Some(tag), Some(customers)) = (&q.tag, tag_customers) {
            // Tagged itself, or its customer is.
            v.push(self.or(vec![
                term_text(f.tags, &tag.to_lowercase()),
                Box::new(TermSetQuery::new(
                    customers
                        .iter()
                        .map(|c| Term::from_field_i64(f.customer, *c)),
                )),
            ]));
        }
        v
    }

    fn date_range(&self, q: &SearchQuery) -> Option<Box<dyn Query>> {
        if q.from.is_none() && q.to.is_none() {
            return None;
        }
        let lo = q.from.map_or(Bound::Unbounded, |v| {
            Bound::Included(Term::from_field_i64(self.f.created, v))
        });
        let hi = q.to.map_or(Bound::Unbounded, |v| {
            Bound::Excluded(Term::from_field_i64(self.f.created, v))
        });
        Some(Box::new(RangeQuery::new(lo, hi)))
    }

    fn shop_kind(&self, shop_id: i64, kind: DocKind) -> Box<dyn Query> {
        self.and(vec![
            term_i64(self.f.shop, shop_id),
            term_text(self.f.kind, kind.as_str()),
        ])
    }

    fn and(&self, v: Vec<Box<dyn Query>>) -> Box<dyn Query> {
        Box::new(BooleanQuery::new(
            v.into_iter().map(|q| (Occur::Must, q)).collect(),
        ))
    }

    fn or(&self, v: Vec<Box<dyn Query>>) -> Box<dyn Query> {
        Box::new(BooleanQuery::new(
            v.into_iter().map(|q| (Occur::Should, q)).collect(),
        ))
    }

    /// Every clause must match (in the title, body or the extra text; pinyin and identifiers for
    /// names); alternatively, a query made only of identifiers matches the `ids` field.
    fn text_query(&self, p: &ParsedQuery, kind: DocKind) -> Box<dyn Query> {
        let f = &self.f;
        let mut clauses: Vec<Box<dyn Query>> = Vec::new();
        for c in &p.clauses {
            match c {
                Clause::Term { term, raw } => {
                    let mut alts = vec![
                        boosted(term_text(f.title, term), 1.5),
                        term_text(f.body, term),
                        term_text(f.extra, term),
                    ];
                    let names = matches!(
                        kind,
                        DocKind::Customer | DocKind::Conversation | DocKind::Script
                    );
                    if let Some(r) = raw
                        .as_deref()
                        .filter(|r| names && r.bytes().all(|b| b.is_ascii_alphabetic()))
                    {
                        alts.push(term_text(f.pinyin, r));
                    }
                    clauses.push(self.or(alts));
                }
                Clause::Phrase(terms) => {
                    let phrase = |field: Field| -> Box<dyn Query> {
                        if terms.len() == 1 {
                            term_text(field, &terms[0])
                        } else {
                            Box::new(PhraseQuery::new(
                                terms
                                    .iter()
                                    .map(|t| Term::from_field_text(field, t))
                                    .collect(),
                            ))
                        }
                    };
                    clauses.push(self.or(vec![boosted(phrase(f.title), 1.5), phrase(f.body)]));
                }
            }
        }
        let mut alts = Vec::new();
        if !clauses.is_empty() {
            alts.push(self.and(clauses));
        }
        if !p.ids.is_empty() && kind == DocKind::Customer {
            let ids = p.ids.iter().map(|i| term_text(f.ids, i)).collect();
            alts.push(boosted(self.and(ids), 3.0));
        }
        self.or(alts)
    }

    fn hit(
        &self,
        searcher: &tantivy::Searcher,
        kind: DocKind,
        score: Score,
        addr: DocAddress,
        p: &ParsedQuery,
        shop_id: i64,
    ) -> IndexResult<Hit> {
        let f = &self.f;
        let doc: TantivyDocument = searcher.doc(addr)?;
        let i64_of = |field| doc.get_first(field).and_then(|v| v.as_i64());
        let str_of = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned()
        };
        let title = str_of(f.title);
        let body = if kind == DocKind::Customer {
            str_of(f.meta)
        } else {
            str_of(f.body)
        };
        let mut hit = Hit {
            kind: kind.as_str(),
            id: i64_of(f.id).unwrap_or(0),
            score,
            conversation_id: i64_of(f.conv),
            customer_id: i64_of(f.customer),
            title: title.clone(),
            snippet: Snippet {
                text: String::new(),
                highlights: Vec::new(),
            },
            created_at: i64_of(f.created).unwrap_or(0),
            status: doc
                .get_first(f.status)
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            private: i64_of(f.private) == Some(1),
        };
        let snippet = self.snippet(&body, p);
        hit.snippet = if snippet.highlights.is_empty() && !title.is_empty() {
            let t = self.snippet(&title, p);
            if t.highlights.is_empty() { snippet } else { t }
        } else {
            snippet
        };
        if kind == DocKind::Message {
            // The conversation's status and customer, when it is indexed.
            if let Some(conv) = hit.conversation_id {
                let q = self.and(vec![
                    self.shop_kind(shop_id, DocKind::Conversation),
                    term_i64(f.conv, conv),
                ]);
                if let Some((_, a)) = searcher
                    .search(&q, &TopDocs::with_limit(1).order_by_score())?
                    .first()
                {
                    let c: TantivyDocument = searcher.doc(*a)?;
                    hit.customer_id = c.get_first(f.customer).and_then(|v| v.as_i64());
                    hit.status = c
                        .get_first(f.status)
                        .and_then(|v| v.as_str())
                        .map(str::to_owned);
                }
            }
        }
        Ok(hit)
    }

    /// A window of `text` around the first match, with every match highlighted.
    pub fn snippet(&self, text: &str, p: &ParsedQuery) -> Snippet {
        let wanted: HashSet<&str> = p.all_terms().collect();
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for t in self.analyzer.analyze(text) {
            if wanted.contains(t.text.as_str()) {
                spans.push((t.from, t.to));
                continue;
            }
            // A word found inside a longer glued word (see the tokenizer).
            let original = &text[t.from..t.to];
            for w in &wanted {
                if w.chars().count() >= 2
                    && w.chars().all(is_cjk_char)
                    && let Some(i) = original.find(w)
                {
                    spans.push((t.from + i, t.from + i + w.len()));
                }
            }
        }
        // Identifiers (phones, order numbers) are matched literally, ignoring case.
        let lower = text.to_ascii_lowercase();
        for raw in &p.raw_ids {
            let mut from = 0;
            while let Some(i) = lower[from..].find(raw.as_str()) {
                spans.push((from + i, from + i + raw.len()));
                from += i + raw.len();
            }
        }
        spans.sort_unstable();
        make_snippet(text, &spans)
    }
}

fn boosted(q: Box<dyn Query>, b: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(q, b))
}

fn term_text(field: Field, s: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, s),
        IndexRecordOption::WithFreqs,
    ))
}

fn term_i64(field: Field, v: i64) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_i64(field, v),
        IndexRecordOption::Basic,
    ))
}

/// Cuts a window of about [`SNIPPET_CHARS`] characters starting a little before the first span
/// and converts the spans inside it to UTF-16 offsets of the window.
fn make_snippet(text: &str, spans: &[(usize, usize)]) -> Snippet {
    let first = spans.first().map_or(0, |s| s.0);
    // Start up to 20 characters before the first match, on a char boundary.
    let start = text[..first]
        .char_indices()
        .rev()
        .nth(19)
        .map_or(0, |(i, _)| i);
    let end = text[start..]
        .char_indices()
        .nth(SNIPPET_CHARS)
        .map_or(text.len(), |(i, _)| start + i);
    let mut out = String::new();
    let prefix = if start > 0 { "…" } else { "" };
    out.push_str(prefix);
    let base16 = prefix.encode_utf16().count();
    let window = &text[start..end];
    out.push_str(window);
    if end < text.len() {
        out.push('…');
    }
    let u16_at = |byte: usize| base16 + window[..byte].encode_utf16().count();
    let mut highlights: Vec<(usize, usize)> = Vec::new();
    for &(a, b) in spans {
        if a < start || b > end || a >= b {
            continue;
        }
        let (a, b) = (u16_at(a - start), u16_at(b - start));
        match highlights.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => highlights.push((a, b)),
        }
    }
    Snippet {
        text: out,
        highlights,
    }
}

/// Pinyin terms of a name or title: full pinyin of the whole text (`zhangsan`), its initials
/// (`zs`), and each word's full pinyin when the text has several CJK characters.
fn pinyin_terms(text: &str) -> Vec<String> {
    use pinyin::ToPinyin;
    let mut full = String::new();
    let mut initials = String::new();
    let mut out = Vec::new();
    for (c, p) in text.chars().zip(text.to_pinyin()) {
        match p {
            Some(p) => {
                full.push_str(p.plain());
                initials.push_str(p.first_letter());
                out.push(p.plain().to_owned());
            }
            None if c.is_ascii_alphanumeric() => {
                let l = c.to_ascii_lowercase();
                full.push(l);
                initials.push(l);
            }
            None => {}
        }
    }
    if initials.chars().count() < 2 {
        return Vec::new();
    }
    out.push(full);
    out.push(initials);
    out.sort();
    out.dedup();
    out
}

/// Normalises an identifier: ASCII letters and digits (lower-case), `@` and `.` for e-mails.
pub fn normalize_id(v: &str) -> String {
    let email = v.contains('@');
    v.chars()
        .filter(|c| {
            c.is_ascii_alphanumeric() || (email && matches!(c, '@' | '.' | '_' | '-' | '+'))
        })
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The `ids` terms of one identifier (see the module documentation).
fn id_terms(v: &str, order: bool, out: &mut HashSet<String>) {
    let n = normalize_id(v);
    if n.is_empty() {
        return;
    }
    if let Some((local, _)) = n.split_once('@') {
        if !local.is_empty() {
            out.insert(local.to_owned());
        }
        out.insert(n);
        return;
    }
    let len = n.len();
    for i in 1..=len.saturating_sub(MIN_SUFFIX) {
        out.insert(n[i..].to_owned());
    }
    if order {
        for j in MIN_ORDER_PREFIX..len {
            out.insert(n[..j].to_owned());
        }
    }
    out.insert(n);
}

/// A parsed user query.
#[derive(Debug, Default, Clone)]
pub struct ParsedQuery {
    clauses: Vec<Clause>,
    /// Normalised identifier values, when every word of the query looks like one.
    ids: Vec<String>,
    /// The same, for literal highlighting.
    raw_ids: Vec<String>,
}

#[derive(Debug, Clone)]
enum Clause {
    /// One analysed term; `raw` is the original ASCII word (for pinyin), lower-cased.
    Term {
        term: String,
        raw: Option<String>,
    },
    Phrase(Vec<String>),
}

impl ParsedQuery {
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty() && self.ids.is_empty()
    }

    fn all_terms(&self) -> impl Iterator<Item = &str> {
        self.clauses.iter().flat_map(|c| match c {
            Clause::Term { term, .. } => std::slice::from_ref(term).iter().map(String::as_str),
            Clause::Phrase(t) => t.iter().map(String::as_str),
        })
    }
}

/// Parses a user query: `"…"` phrases, the rest analysed into terms that must all match. Operators
/// (`AND`, `OR`, `NOT`, `*`, brackets …) have no meaning; punctuation is dropped by the analyzer.
pub fn parse_query(analyzer: &Analyzer, text: &str) -> ParsedQuery {
    let text: String = text.chars().take(MAX_QUERY_CHARS).collect();
    let mut out = ParsedQuery::default();
    let mut seen = HashSet::new();
    let mut plain = String::new();
    for (i, part) in text.split('"').enumerate() {
        // Odd parts are inside quotes; an unmatched quote just opens a phrase to the end.
        if i % 2 == 1 {
            let terms: Vec<String> = analyzer.analyze(part).into_iter().map(|t| t.text).collect();
            if !terms.is_empty() && out.clauses.len() < MAX_QUERY_TERMS {
                out.clauses.push(Clause::Phrase(terms));
            }
        } else {
            plain.push(' ');
            plain.push_str(part);
        }
    }
    let words: Vec<&str> = plain
        .split_whitespace()
        .filter(|w| !matches!(*w, "AND" | "OR" | "NOT" | "&&" | "||"))
        .collect();
    for w in &words {
        for t in analyzer.analyze(w) {
            if out.clauses.len() >= MAX_QUERY_TERMS {
                break;
            }
            if seen.insert(t.text.clone()) {
                let raw = w[t.from..t.to].to_ascii_lowercase();
                out.clauses.push(Clause::Term {
                    term: t.text,
                    raw: raw.is_ascii().then_some(raw),
                });
            }
        }
    }
    // Identifier lookup only when every word is identifier-like (has a digit or '@', ≥ 4 chars).
    let ids: Vec<String> = words.iter().map(|w| normalize_id(w)).collect();
    if !ids.is_empty()
        && text.matches('"').count() == 0
        && ids
            .iter()
            .all(|i| i.len() >= MIN_SUFFIX && i.bytes().any(|b| b.is_ascii_digit() || b == b'@'))
    {
        out.raw_ids = ids.clone();
        out.ids = ids.into_iter().take(MAX_QUERY_TERMS).collect();
    }
    out
}

/// Collects one i64 fast field of every matching document.
struct I64Values(&'static str);

struct I64SegmentValues {
    column: tantivy::columnar::Column<i64>,
    out: Vec<i64>,
}

impl Collector for I64Values {
    type Fruit = Vec<i64>;
    type Child = I64SegmentValues;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<I64SegmentValues> {
        Ok(I64SegmentValues {
            column: segment.fast_fields().i64(self.0)?,
            out: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<i64>>) -> tantivy::Result<Vec<i64>> {
        let mut all: Vec<i64> = fruits.into_iter().flatten().collect();
        all.sort_unstable();
        all.dedup();
        Ok(all)
    }
}

impl SegmentCollector for I64SegmentValues {
    type Fruit = Vec<i64>;

    fn collect(&mut self, doc: DocId, _: Score) {
        if let Some(v) = self.column.first(doc) {
            self.out.push(v);
        }
    }

    fn harvest(self) -> Vec<i64> {
        self.out
    }
}

/// Per-kind hit counts of a result, for logs and tests.
pub fn counts(r: &SearchResults) -> HashMap<&'static str, usize> {
    r.groups
        .iter()
        .map(|(k, h)| (k.as_str(), h.len()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn analyzer() -> Arc<Analyzer> {
        static A: OnceLock<Arc<Analyzer>> = OnceLock::new();
        A.get_or_init(|| Arc::new(Analyzer::new())).clone()
    }

    fn msg(id: i64, shop: i64, conv: i64, body: &str) -> Op {
        Op::Message(MessageDoc {
            id,
            shop_id: shop,
            conversation_id: conv,
            sender_type: "customer".into(),
            sender_name: "张三".into(),
            private: false,
            body: body.into(),
            created_at: 1_000 * id,
        })
    }

    fn conv(id: i64, shop: i64, customer: i64, status: &str, assignee: Option<i64>) -> Op {
        Op::Conversation(ConversationDoc {
            id,
            shop_id: shop,
            customer_id: customer,
            customer_name: "张三".into(),
            status: status.into(),
            channel: "web".into(),
            assignee_id: assignee,
            assignee_name: None,
            team_id: Some(1),
            tags: Vec::new(),
            created_at: 0,
        })
    }

    fn tagged(op: Op, tags: &[&str]) -> Op {
        match op {
            Op::Conversation(mut c) => {
                c.tags = tags.iter().map(|t| t.to_string()).collect();
                Op::Conversation(c)
            }
            other => other,
        }
    }

    fn query(shop: i64, text: &str) -> SearchQuery {
        SearchQuery {
            shop_id: shop,
            viewer: Viewer {
                agent_id: 1,
                sees_whole_shop: true,
            },
            text: text.into(),
            kinds: Vec::new(),
            status: None,
            channel: None,
            agent_id: None,
            team_id: None,
            from: None,
            to: None,
            tag: None,
            limit: 10,
        }
    }

    fn ids(r: &SearchResults, kind: DocKind) -> Vec<i64> {
        let mut v: Vec<i64> = r
            .groups
            .iter()
            .filter(|(k, _)| *k == kind)
            .flat_map(|(_, h)| h.iter().map(|h| h.id))
            .collect();
        v.sort();
        v
    }

    fn sample() -> SearchIndex {
        let ix = SearchIndex::in_memory(analyzer()).unwrap();
        ix.apply(
            &[
                conv(10, 1, 100, "open", Some(1)),
                conv(11, 1, 101, "resolved", Some(2)),
                tagged(conv(12, 1, 102, "open", None), &["加急", "Refund"]),
                conv(20, 2, 200, "open", None),
                msg(1, 1, 10, "我想退货怎么办"),
                msg(2, 1, 10, "The refund was sent yesterday"),
                msg(3, 1, 11, "iPhone12的屏幕有色差吗"),
                msg(4, 1, 12, "退货地址在哪里"),
                msg(5, 2, 20, "我想退货"),
                msg(6, 1, 10, "客户很着急要退款"),
                Op::Customer(CustomerDoc {
                    id: 100,
                    shop_id: 1,
                    name: "张三".into(),
                    contacts: vec!["+86 138-1234-5678".into(), "Zhang.San@Example.com".into()],
                    order_nos: vec!["E20240001".into()],
                    tags: vec!["VIP".into()],
                    created_at: 0,
                }),
                Op::Customer(CustomerDoc {
                    id: 101,
                    shop_id: 1,
                    name: "Li Si".into(),
                    contacts: vec!["13900001111".into()],
                    order_nos: vec![],
                    tags: vec![],
                    created_at: 0,
                }),
                Op::Generic(GenericDoc {
                    kind: DocKind::Script,
                    id: 7,
                    shop_id: 1,
                    owner_id: None,
                    title: "退款说明".into(),
                    body: "亲，退款会在3个工作日内原路退回".into(),
                    tags: vec![],
                    created_at: 0,
                }),
                Op::Generic(GenericDoc {
                    kind: DocKind::Script,
                    id: 8,
                    shop_id: 1,
                    owner_id: Some(2),
                    title: "我的退款话术".into(),
                    body: "退款马上处理".into(),
                    tags: vec![],
                    created_at: 0,
                }),
            ],
            Some("cursor"),
        )
        .unwrap();
        ix
    }

    #[test]
    fn chinese_english_and_mixed() {
        let ix = sample();
        let r = ix.search(&query(1, "退货")).unwrap();
        assert_eq!(ids(&r, DocKind::Message), [1, 4]);
        let r = ix.search(&query(1, "refunds")).unwrap();
        assert_eq!(ids(&r, DocKind::Message), [2]);
        let r = ix.search(&query(1, "着急")).unwrap();
        assert_eq!(ids(&r, DocKind::Message), [6]);
        let hit = &r.groups[0].1[0].snippet;
        assert_eq!(hit.highlights, [(3, 5)], "{hit:?}");
        let r = ix.search(&query(1, "\"着急要\"")).unwrap();
        assert_eq!(ids(&r, DocKind::Message), [6]);
        let r = ix.search(&query(1, "iphone 色差")).unwrap();
        assert_eq!(ids(&r, DocKind::Message), [3]);
        assert_eq!(ix.payload().unwrap().as_deref(), Some("cursor"));
    }

    #[test]
    fn snippets_highlight_in_utf16() {
        let ix = sample();
        let r = ix.search(&query(1, "退货")).unwrap();
        let hit = &r.groups[0].1.iter().find(|h| h.id == 1).unwrap().snippet;
        assert_eq!(hit.text, "我想退货怎么办");
        assert_eq!(hit.highlights, [(2, 4)]);
    }

    #[test]
    fn phones_emails_and_order_numbers_find_the_customer() {
        let ix = sample();
        for q in [
            "13812345678",
            "5678",
            "8613812345678",
            "e20240001",
            "E2024000",
            "zhang.san@example.com",
            "zhang.san@example.com",
        ] {
            let r = ix.search(&query(1, q)).unwrap();
            assert_eq!(ids(&r, DocKind::Customer), [100], "{q}");
        }
        // a middle piece of the phone does not match
        let r = ix.search(&query(1, "1234")).unwrap();
        assert!(ids(&r, DocKind::Customer).is_empty());
        let r = ix.search(&query(1, "1111")).unwrap();
        assert_eq!(ids(&r, DocKind::Customer), [101]);
    }

    #[test]
    fn pinyin_finds_names_and_titles() {
        let ix = sample();
        assert_eq!(
            ids(
                &ix.search(&query(1, "zhangsan")).unwrap(),
                DocKind::Customer
            ),
            [100]
        );
        assert_eq!(
            ids(&ix.search(&query(1, "zs")).unwrap(), DocKind::Customer),
            [100]
        );
        assert_eq!(
            ids(&ix.search(&query(1, "tksm")).unwrap(), DocKind::Script),
            [7]
        );
    }

    #[test]
    fn shop_isolation_and_entitlement() {
        let ix = sample();
        let r = ix.search(&query(2, "退货")).unwrap();
        assert_eq!(ids(&r, DocKind::Message), [5]);
        // agent 1 sees own (10) and unassigned (12), not agent 2's (11)
        let mut q = query(1, "退货 OR 色差");
        q.viewer.sees_whole_shop = false;
        let r = ix.search(&query(1, "色差")).unwrap();
        assert_eq!(ids(&r, DocKind::Message), [3]);
        q.text = "色差".into();
        assert!(ids(&ix.search(&q).unwrap(), DocKind::Message).is_empty());
        q.text = "退货".into();
        assert_eq!(ids(&ix.search(&q).unwrap(), DocKind::Message), [1, 4]);
        // personal scripts: only their owner
        q.text = "退款".into();
        assert_eq!(ids(&ix.search(&q).unwrap(), DocKind::Script), [7]);
        q.viewer.agent_id = 2;
        assert_eq!(ids(&ix.search(&q).unwrap(), DocKind::Script), [7, 8]);
    }

    #[test]
    fn filters() {
        let ix = sample();
        let mut q = query(1, "退货");
        q.status = Some("open".into());
        q.agent_id = Some(0);
        assert_eq!(ids(&ix.search(&q).unwrap(), DocKind::Message), [4]);
        assert!(ids(&ix.search(&q).unwrap(), DocKind::Customer).is_empty());
        let mut q = query(1, "退货");
        q.from = Some(2_000);
        assert_eq!(ids(&ix.search(&q).unwrap(), DocKind::Message), [4]);
        q.to = Some(4_000);
        assert!(ids(&ix.search(&q).unwrap(), DocKind::Message).is_empty());
        let mut q = query(1, "退货");
        q.tag = Some("vip".into());
        assert_eq!(ids(&ix.search(&q).unwrap(), DocKind::Message), [1]);
        q.kinds = vec![DocKind::Customer];
        q.text = "zs".into();
        assert_eq!(ids(&ix.search(&q).unwrap(), DocKind::Customer), [100]);
        assert_eq!(ix.search(&q).unwrap().groups.len(), 1);
        // A conversation's own tags (any case), for it and its messages; its customer has none.
        let mut q = query(1, "退货");
        q.tag = Some("refund".into());
        assert_eq!(ids(&ix.search(&q).unwrap(), DocKind::Message), [4]);
        q.tag = Some("加急".into());
        q.text = "张三".into();
        assert_eq!(ids(&ix.search(&q).unwrap(), DocKind::Conversation), [12]);
        assert!(ids(&ix.search(&q).unwrap(), DocKind::Customer).is_empty());
        // A customer's tag still reaches its conversations.
        q.tag = Some("vip".into());
        assert_eq!(ids(&ix.search(&q).unwrap(), DocKind::Conversation), [10]);
        // Tags are words of the conversation too.
        let r = ix.search(&query(1, "加急")).unwrap();
        assert_eq!(ids(&r, DocKind::Conversation), [12]);
    }

    #[test]
    fn phrases_and_upserts() {
        let ix = sample();
        assert_eq!(
            ids(
                &ix.search(&query(1, "\"想退货\"")).unwrap(),
                DocKind::Message
            ),
            [1]
        );
        assert!(
            ids(
                &ix.search(&query(1, "\"退货 想\"")).unwrap(),
                DocKind::Message
            )
            .is_empty()
        );
        ix.apply(
            &[msg(1, 1, 10, "换货"), Op::Delete(DocKind::Message, 4)],
            None,
        )
        .unwrap();
        assert!(ids(&ix.search(&query(1, "退货")).unwrap(), DocKind::Message).is_empty());
        assert_eq!(
            ids(&ix.search(&query(1, "换货")).unwrap(), DocKind::Message),
            [1]
        );
    }

    #[test]
    fn odd_syntax_never_fails() {
        let ix = sample();
        let long = "退货".repeat(5000);
        for q in [
            "\"",
            "*",
            "AND OR (",
            "",
            "   ",
            "\"\"\"",
            "a:b",
            "title:退货",
            "[1 TO 2]",
            "-",
            "~2",
            "\\",
            long.as_str(),
            "😀😀",
            "' OR 1=1 --",
        ] {
            ix.search(&query(1, q)).unwrap();
        }
        assert_eq!(
            ids(
                &ix.search(&query(1, "AND 退货 (")).unwrap(),
                DocKind::Message
            ),
            [1, 4]
        );
    }

    #[test]
    fn corrupt_directory_is_an_error_and_fresh_recovers() {
        let dir = std::env::temp_dir().join(format!("kefu-ix-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let ix = SearchIndex::open_or_create(&dir, analyzer()).unwrap();
            ix.apply(&[msg(1, 1, 10, "退货")], Some("p")).unwrap();
        }
        let ix = SearchIndex::open_or_create(&dir, analyzer()).unwrap();
        assert_eq!(ix.num_docs(), 1);
        drop(ix);
        for e in std::fs::read_dir(&dir).unwrap() {
            std::fs::write(e.unwrap().path(), b"garbage").unwrap();
        }
        assert!(SearchIndex::open_or_create(&dir, analyzer()).is_err());
        let ix = SearchIndex::create_fresh(&dir, analyzer()).unwrap();
        assert_eq!(ix.num_docs(), 0);
        drop(ix);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn id_terms_are_whole_tails_and_order_heads() {
        let mut s = HashSet::new();
        id_terms("138-1234-5678", false, &mut s);
        assert!(s.contains("13812345678") && s.contains("5678") && s.contains("45678"));
        assert!(!s.contains("678") && !s.contains("1381"));
        let mut s = HashSet::new();
        id_terms("SO-2024-000123", true, &mut s);
        assert!(s.contains("so2024000123") && s.contains("0123") && s.contains("so2024"));
    }
}
