//! Batched code link lookups: an order's links and pull requests, a milestone's pull
//! requests, a pull request's checks, and pull requests and checks by id (dispute evidence).

use super::model::{self, CheckRow, CodeLinkRow, OwnedPullRequest, PullRequestCheck, PullRequestRow};
use crate::graphql::loader::{grouped_loader, keyed_loader};

grouped_loader!(
    /// Key: an order id → its code links, oldest first.
    CodeLinksOf: model::links_of => CodeLinkRow, by order_id
);
grouped_loader!(
    /// Key: an order id → the pull requests of the repositories it links, latest first.
    PullRequestsOfOrder: model::pull_requests_of_orders => OwnedPullRequest, by owner_id
);
grouped_loader!(
    /// Key: a milestone id → the pull requests it shows, latest first.
    PullRequestsOfMilestone: model::pull_requests_of_milestones => OwnedPullRequest, by owner_id
);
grouped_loader!(
    /// Key: a pull request id → the checks of its head commit, by name.
    ChecksOf: model::checks_of => PullRequestCheck, by pull_request_id
);
keyed_loader!(
    /// Key: a pull request id.
    PullRequestById: model::find_pull_requests => PullRequestRow, by id
);
keyed_loader!(
    /// Key: a check id.
    CheckById: model::find_checks => CheckRow, by id
);
