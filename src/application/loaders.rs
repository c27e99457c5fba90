//! Batched lookups for applications.

use super::model::{self, ApplicationRow};
use crate::graphql::loader::keyed_loader;

keyed_loader!(
    /// Key: an application id.
    ApplicationById: model::find_many => ApplicationRow, by id
);
