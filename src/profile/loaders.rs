//! Batched user lookups.

use super::model::{self, UserRow};
use crate::graphql::loader::keyed_loader;

keyed_loader!(
    /// Key: a user id.
    UserById: model::find_many => UserRow, by id
);
