//! The postgres implementation of [`kefu_core::segments::SegmentStore`].

use crate::PostgresStore;
use async_trait::async_trait;
use kefu_core::segments::SegmentStore;

#[async_trait]
impl SegmentStore for PostgresStore {}
