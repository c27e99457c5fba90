//! Batched call lookups: the participants of a page of calls in one statement.

use super::model::{self, ParticipantRow};
use crate::graphql::loader::grouped_loader;

grouped_loader!(
    /// Key: a call id → its participants.
    ParticipantsOf: model::participants_of => ParticipantRow, by call_id
);
