//! Batched verification lookups.

use super::model::{self, DocumentRow};
use crate::graphql::loader::grouped_loader;

grouped_loader!(
    /// Key: a verification request id → its documents, in upload order (every key gets an entry).
    DocumentsOf: model::documents_of => DocumentRow, by request_id
);
