//! kefu-store: the sqlx adapters of kefu's storage port ([`kefu_core::store::Store`]).
//!
//! - [`sqlite`]: the embedded default (WAL, one group-committing writer task, a reader pool).
//! - [`postgres`]: a transaction per write, row locks and advisory locks where SQLite's single
//!   writer already serialises.
//!
//! It depends on kefu-core only; nothing above it sees sqlx.

// The shared areas (`src/areas/`) are compiled twice, once inside each backend module over that
// backend's prelude: that is the design (see docs/STORAGE.md), not an accident.
#![allow(clippy::duplicate_mod)]

mod faults;
pub mod postgres;
pub mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
