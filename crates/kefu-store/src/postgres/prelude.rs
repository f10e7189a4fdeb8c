//! What the shared area modules (`src/areas/`) see of PostgreSQL. The SQLite prelude has the same
//! names; an area written against these compiles for both.
//!
//! Here every write is its own READ COMMITTED transaction, so a write that reads before it changes
//! locks what it read ([`FOR_UPDATE`] and friends, [`lock_shop`]), and the transaction macro runs
//! the body again after a deadlock. Retries and duplicate-message races are recognised by
//! [`TxFailure`], which [`db_err`] records for the transaction it runs in, never by error text.

pub(crate) use super::{PostgresStore as DbStore, db_err};
pub(crate) use sqlx::{AssertSqlSafe, Row};

use kefu_core::model::Id;
use kefu_core::{Error, Result};
use std::cell::Cell;

/// The connection every area query runs on (a pooled one or a transaction's).
pub(crate) type Conn = sqlx::PgConnection;
/// A row of a dynamic query.
pub(crate) type DbRow = sqlx::postgres::PgRow;

/// The name [`kefu_core::store::Store::backend`] reports.
pub(crate) const BACKEND: &str = "postgres";

/// Whether a write must lock what it read to keep it true until commit. Code that needs a second
/// read under lock runs it only when this is set.
pub(crate) const ROW_LOCKS: bool = true;
/// Appended to a `SELECT` of a write that changes the rows it reads.
pub(crate) const FOR_UPDATE: &str = " FOR UPDATE";
/// [`FOR_UPDATE`] limited to the table aliased `t` (a joined read that locks only its own row).
pub(crate) const FOR_UPDATE_OF_T: &str = " FOR UPDATE OF t";
/// Appended to a `SELECT` of a write that changes the rows' columns but not their keys (it does not
/// block inserts of rows referring to them).
pub(crate) const FOR_NO_KEY_UPDATE: &str = " FOR NO KEY UPDATE";
/// Appended to a `SELECT` that leases rows: concurrent leases (other nodes) skip each other's rows.
pub(crate) const FOR_UPDATE_SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
/// A case-insensitive `LIKE`.
pub(crate) const CASELESS_LIKE: &str = "ILIKE";
/// The larger (smaller) of two values.
pub(crate) const GREATEST: &str = "GREATEST";
pub(crate) const LEAST: &str = "LEAST";
/// SQLite's table-scan hint; the planner here picks for itself.
pub(crate) const ORDERS_SCAN: &str = "";

/// A list of ids bound as one parameter: an array that [`in_ids`] matches.
pub(crate) type IdList = Vec<Id>;

pub(crate) fn id_list(ids: &[Id]) -> IdList {
    ids.to_vec()
}

/// `IN (the ids bound as parameter `param`, an [`IdList`])`.
pub(crate) fn in_ids(param: &str) -> String {
    format!("= ANY({param})")
}

/// The rows of the JSON array bound as `param` (text), as a `FROM` item `e` whose column `e.value`
/// is each element (read fields with `e.value->>N`).
pub(crate) fn json_array_rows(param: &str) -> String {
    format!("jsonb_array_elements(CAST({param} AS jsonb)) AS e(value)")
}

/// The per-shop advisory locks, each kind in its own key space.
#[derive(Clone, Copy)]
pub(crate) enum ShopLock {
    /// One router per shop at a time.
    Routing,
    /// One commerce batch per shop at a time (two imports of the same new order cannot both
    /// insert it).
    Commerce,
    /// Merges and verified logins of one shop never interleave.
    CustomerMerge,
    /// Two imports of the same new review cannot both insert it.
    ReviewImport,
    /// Changes to a shop's members and teams that check the shop's admins or a team's members
    /// (two admins demoting each other at once cannot both win).
    Members,
}

/// The one-key advisory lock space of commerce ingest (routing's keys are the bare shop ids).
const COMMERCE_LOCK_SPACE: i64 = 0x6b65_6675_0000_0000;

/// Takes `lock` for `shop_id` until the transaction ends.
pub(crate) async fn lock_shop(conn: &mut Conn, lock: ShopLock, shop_id: Id) -> Result<()> {
    let (sql, key) = match lock {
        ShopLock::Routing => ("SELECT pg_advisory_xact_lock($1)", shop_id),
        ShopLock::Commerce => (
            "SELECT pg_advisory_xact_lock($1)",
            COMMERCE_LOCK_SPACE + shop_id,
        ),
        ShopLock::CustomerMerge => (
            "SELECT pg_advisory_xact_lock(3, CAST($1 % 2147483647 AS int))",
            shop_id,
        ),
        ShopLock::ReviewImport => (
            "SELECT pg_advisory_xact_lock(15, CAST($1 % 2147483647 AS int))",
            shop_id,
        ),
        ShopLock::Members => (
            "SELECT pg_advisory_xact_lock(19, CAST($1 % 2147483647 AS int))",
            shop_id,
        ),
    };
    sqlx::query(sql)
        .bind(key)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// SQLite's bulk path for imported orders (`sqlite/bulk_import.rs`); here every order of the
/// chunk takes the one-by-one path.
pub(crate) async fn orders_in_bulk(
    _conn: &mut Conn,
    _shop_id: Id,
    items: Vec<(usize, kefu_core::commerce::OrderDoc)>,
    _webhook: bool,
    _now: kefu_core::time::Millis,
    _skus: &mut super::commerce::SkuCache,
    _out: &mut kefu_core::commerce::BatchOutcome,
) -> Result<Vec<(usize, kefu_core::commerce::OrderDoc)>> {
    Ok(items)
}

/// A value the transaction body consumes: cloned, because the body may run again after a deadlock.
macro_rules! postgres_owned {
    ($value:expr) => {
        $value.clone()
    };
}
pub(crate) use postgres_owned as owned;

/// How often a transaction that deadlocked (or failed to serialize) is run again.
pub(crate) const MAX_RETRIES: u32 = 5;

/// Why a transaction failed, when the store handles the failure itself instead of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxFailure {
    /// A deadlock or serialization failure: the transaction runs again.
    Retry,
    /// A message insert lost the race to the `messages_idempotency` index against its own retry:
    /// the answer is the original message.
    DuplicateMessage,
}

impl TxFailure {
    pub(crate) fn of(e: &sqlx::Error) -> Option<Self> {
        let sqlx::Error::Database(d) = e else {
            return None;
        };
        if matches!(d.code().as_deref(), Some("40P01" | "40001")) {
            Some(Self::Retry)
        } else if d.is_unique_violation() && d.constraint() == Some("messages_idempotency") {
            Some(Self::DuplicateMessage)
        } else {
            None
        }
    }
}

tokio::task_local! {
    /// The failure [`db_err`] met in the transaction that runs on this task, if any.
    static TX_FAILURE: Cell<Option<TxFailure>>;
}

/// Notes `failure` for the transaction running on this task (outside one there is nothing to do).
pub(crate) fn record(failure: TxFailure) {
    let _ = TX_FAILURE.try_with(|slot| slot.set(Some(failure)));
}

/// Runs a transaction's body and hands back its result with the failure it met, if any.
pub(crate) async fn watch<T>(
    body: impl Future<Output = Result<T>>,
) -> (Result<T>, Option<TxFailure>) {
    TX_FAILURE
        .scope(Cell::new(None), async {
            let result = body.await;
            (result, TX_FAILURE.with(Cell::get))
        })
        .await
}

/// The outcome of a transaction that failed for good.
pub(crate) fn kept_failing() -> Error {
    Error::internal("transaction kept deadlocking")
}

/// Runs `$body` (a block using `$conn: &mut Conn`, returning `Result<T>`) in a transaction and
/// commits it; on error it is rolled back, and after a deadlock it runs again (up to
/// [`MAX_RETRIES`] times), so the body may only borrow what it captures. Evaluates to
/// `(Result<T>, Option<TxFailure>)`.
macro_rules! postgres_transaction {
    ($store:expr, |$conn:ident| $body:block $(,)?) => {{
        use $crate::postgres::prelude as backend;
        let mut attempt = 0u32;
        loop {
            let mut tx = match $store.pool.begin().await {
                Ok(tx) => tx,
                Err(e) => break (Err(backend::db_err(e)), None),
            };
            let (result, failure) = backend::watch(async {
                let $conn: &mut backend::Conn = &mut tx;
                $body
            })
            .await;
            let (result, failure) = match result {
                Ok(value) => match tx.commit().await {
                    Ok(()) => (Ok(value), None),
                    Err(e) => {
                        let failure = backend::TxFailure::of(&e);
                        (Err(backend::db_err(e)), failure)
                    }
                },
                Err(e) => {
                    let _ = tx.rollback().await;
                    (Err(e), failure)
                }
            };
            match failure {
                Some(backend::TxFailure::Retry) if attempt < backend::MAX_RETRIES => attempt += 1,
                Some(backend::TxFailure::Retry) => break (Err(backend::kept_failing()), failure),
                _ => break (result, failure),
            }
        }
    }};
}
pub(crate) use postgres_transaction;

/// One write transaction: [`postgres_transaction!`]'s result.
macro_rules! postgres_tx {
    ($store:expr, |$conn:ident| $body:block $(,)?) => {
        $crate::postgres::prelude::postgres_transaction!($store, |$conn| $body).0
    };
}
pub(crate) use postgres_tx as tx;

/// [`tx!`] for a write that stores a message under a `client_msg_id`: when a concurrent retry won
/// the race to the idempotency index, the answer is the original message. `$retry` names it:
/// `(shop_id, sender_type, sender_id, client_msg_id)`.
macro_rules! postgres_message_tx {
    ($store:expr, $retry:expr, |$conn:ident| $body:block $(,)?) => {
        match $crate::postgres::prelude::postgres_transaction!($store, |$conn| $body) {
            (Err(_), Some($crate::postgres::prelude::TxFailure::DuplicateMessage)) => {
                let (shop_id, sender_type, sender_id, client_msg_id) = $retry;
                $store
                    .original(shop_id, sender_type, sender_id, client_msg_id)
                    .await
            }
            (result, _) => result,
        }
    };
}
pub(crate) use postgres_message_tx as message_tx;

#[cfg(test)]
mod tests {
    use super::*;

    /// A failure noted inside a transaction's body is handed back with its result; one noted
    /// outside any transaction, or in another, is not.
    #[tokio::test]
    async fn a_transaction_sees_only_its_own_failure() {
        record(TxFailure::Retry);
        let (result, failure) = watch(async {
            record(TxFailure::DuplicateMessage);
            Ok(1)
        })
        .await;
        assert_eq!(
            (result.ok(), failure),
            (Some(1), Some(TxFailure::DuplicateMessage))
        );
        let (_, failure) = watch(async { Ok(()) }).await;
        assert_eq!(failure, None);
    }
}
