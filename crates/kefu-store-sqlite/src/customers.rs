//! The sqlite implementation of [`kefu_core::customers::CustomerStore`].

use crate::SqliteStore;
use async_trait::async_trait;
use kefu_core::customers::CustomerStore;

#[async_trait]
impl CustomerStore for SqliteStore {}
