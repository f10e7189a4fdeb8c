//! What the shared area modules (`src/areas/`) see of SQLite. The PostgreSQL prelude has the same
//! names; an area written against these compiles for both.
//!
//! SQLite has one writer (the group-committing [`super::writer::Writer`] task): whatever a write
//! reads stays true until it commits, so every row lock and advisory lock here is a no-op and the
//! transaction macro never retries.

pub(crate) use super::bulk_import::orders_in_bulk;
pub(crate) use super::{SqliteStore as DbStore, db_err};
pub(crate) use sqlx::{AssertSqlSafe, Row};

use kefu_core::model::Id;

/// The connection every area query runs on (a reader or the writer's).
pub(crate) type Conn = sqlx::SqliteConnection;
/// A row of a dynamic query.
pub(crate) type DbRow = sqlx::sqlite::SqliteRow;

/// The name [`kefu_core::store::Store::backend`] reports.
pub(crate) const BACKEND: &str = "sqlite";

/// Whether a write must lock what it read to keep it true until commit. Code that needs a second
/// read under lock runs it only when this is set.
pub(crate) const ROW_LOCKS: bool = false;
/// Appended to a `SELECT` of a write that changes the rows it reads.
pub(crate) const FOR_UPDATE: &str = "";
/// [`FOR_UPDATE`] limited to the table aliased `t` (a joined read that locks only its own row).
pub(crate) const FOR_UPDATE_OF_T: &str = "";
/// Appended to a `SELECT` of a write that changes the rows' columns but not their keys.
pub(crate) const FOR_NO_KEY_UPDATE: &str = "";
/// Appended to a `SELECT` that leases rows: concurrent leases skip each other's rows.
pub(crate) const FOR_UPDATE_SKIP_LOCKED: &str = "";
/// A case-insensitive `LIKE` (SQLite's `LIKE` already ignores ASCII case).
pub(crate) const CASELESS_LIKE: &str = "LIKE";
/// The larger (smaller) of two values: SQLite's `MAX`/`MIN` with two arguments are scalar.
pub(crate) const GREATEST: &str = "MAX";
pub(crate) const LEAST: &str = "MIN";
/// A hint that a whole-shop read of `orders` scans the table instead of walking the customer
/// index (which jumps all over the table: 0.6 s against 2-6 s for 1,000,000 orders).
pub(crate) const ORDERS_SCAN: &str = " NOT INDEXED";

/// A list of ids bound as one parameter: a JSON array that [`in_ids`] unpacks.
pub(crate) type IdList = String;

pub(crate) fn id_list(ids: &[Id]) -> IdList {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

/// `IN (the ids bound as parameter `param`, an [`IdList`])`.
pub(crate) fn in_ids(param: &str) -> String {
    format!("IN (SELECT value FROM json_each({param}))")
}

/// The rows of the JSON array bound as `param`, as a `FROM` item `e` whose column `e.value` is
/// each element (read fields with `e.value->>N`).
pub(crate) fn json_array_rows(param: &str) -> String {
    format!("json_each({param}) e")
}

/// The advisory locks of PostgreSQL; names only here.
#[derive(Clone, Copy)]
pub(crate) enum ShopLock {
    Routing,
    Commerce,
    CustomerMerge,
    ReviewImport,
    Members,
}

/// Serialises one kind of write per shop on PostgreSQL; the single writer already does here.
pub(crate) async fn lock_shop(
    _conn: &mut Conn,
    _lock: ShopLock,
    _shop_id: Id,
) -> kefu_core::Result<()> {
    Ok(())
}

/// Runs `$body` (a block using `$conn: &mut Conn`, returning `Result<T>`) as one write
/// transaction: a job of the writer task, committed with the others of its group. The body is
/// moved to the writer task, so it may capture only owned values (clone borrowed inputs first).
macro_rules! sqlite_tx {
    ($store:expr, |$conn:ident| $body:block $(,)?) => {
        $store.write(move |$conn| Box::pin(async move $body)).await
    };
}
pub(crate) use sqlite_tx as tx;

/// A value the transaction body consumes: moved, because the body runs exactly once.
macro_rules! sqlite_owned {
    ($value:expr) => {
        ::std::convert::identity($value)
    };
}
pub(crate) use sqlite_owned as owned;

/// [`tx!`] for a write that stores a message under a `client_msg_id`. `$retry` names the message
/// (`(shop_id, sender_type, sender_id, client_msg_id)`) for PostgreSQL, where a concurrent retry
/// can win the race to the idempotency index; the single writer here rules that race out.
macro_rules! sqlite_message_tx {
    ($store:expr, $retry:expr, |$conn:ident| $body:block $(,)?) => {{
        let _ = &$retry;
        $crate::sqlite::prelude::tx!($store, |$conn| $body)
    }};
}
pub(crate) use sqlite_message_tx as message_tx;
