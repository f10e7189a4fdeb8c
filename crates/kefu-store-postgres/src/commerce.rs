//! The postgres implementation of [`kefu_core::commerce::CommerceStore`].

use crate::PostgresStore;
use async_trait::async_trait;
use kefu_core::commerce::CommerceStore;

#[async_trait]
impl CommerceStore for PostgresStore {}
