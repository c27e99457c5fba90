//! Batched task lookups.

use super::model::{self, TaskRow};
use crate::graphql::loader::keyed_loader;

keyed_loader!(
    /// Key: a task id.
    TaskById: model::find_many => TaskRow, by id
);
