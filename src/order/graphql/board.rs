//! The order's workspace over GraphQL: milestones with their definition-of-done checklist,
//! and the task board's cards and columns.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::{
    code_link::{self, graphql::PullRequest},
    order::model::{BoardItemRow, BoardItemStatus, MilestoneRow},
    profile::graphql::User,
};

/// One definition-of-done item of a milestone.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "ChecklistItemInput")]
pub struct ChecklistEntry {
    /// What must be true for the milestone to count as done (1 to 200 characters).
    pub text: String,
    /// Whether the item is ticked off (false when omitted).
    #[graphql(default)]
    pub done: bool,
}

pub struct OrderMilestone(pub MilestoneRow);

/// A part of an order with its own amount, due date and definition of done.
#[Object]
impl OrderMilestone {
    /// Opaque milestone id: pass it to `setMilestoneChecklist`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The milestone's place in the order, from 0.
    async fn position(&self) -> i32 {
        self.0.position
    }
    /// What this milestone delivers.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// This milestone's part of the order amount, in minor units of the order's currency.
    async fn amount_cents(&self) -> i64 {
        self.0.amount_cents
    }
    /// When this milestone is due (UTC); null when no date was set.
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at
    }
    /// The definition of done (up to 20 items), as `setMilestoneChecklist` last set it.
    async fn checklist(&self) -> Vec<ChecklistEntry> {
        self.0
            .checklist_items()
            .into_iter()
            .map(|i| ChecklistEntry {
                text: i.text,
                done: i.done,
            })
            .collect()
    }
    /// The pull requests of the repositories linked to this milestone (or to the whole order,
    /// when it has only this milestone), with their CI checks, most recently updated first.
    async fn pull_requests(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<PullRequest>> {
        code_link::graphql::pull_requests_of_milestone(ctx, self.0.id).await
    }
}

pub struct BoardItem(pub BoardItemRow);

/// A card on an order's task board, shared by the client and the freelancer.
#[Object]
impl BoardItem {
    /// Opaque card id: pass it to `moveBoardItem` and `deleteBoardItem`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// What the card says (1 to 200 characters).
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The card's column.
    async fn status(&self) -> BoardItemStatus {
        self.0.status
    }
    /// Who added the card.
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::on_record(ctx, self.0.created_by).await
    }
    /// When the card was added (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the card last moved (UTC).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}
