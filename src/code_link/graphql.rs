//! Code links over GraphQL: `CodeLink`, `PullRequest`, `CiCheck`, the lists `Order` and
//! `OrderMilestone` show through them, and `linkRepository`, `addPreviewUrl`,
//! `removeCodeLink`.

use async_graphql::{Context, InputObject, Object, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    loaders::{CheckById, ChecksOf, CodeLinksOf, PullRequestById, PullRequestsOfMilestone, PullRequestsOfOrder},
    model::{CheckRow, CodeLinkRow, PullRequestRow},
    service::{self, Target},
};
pub use super::{
    model::CodeLinkKind,
    state::{CheckSource, CheckStatus, ChecksState, PullRequestState},
};
use crate::{
    graphql::{
        context::ContextExt,
        loader::{load_list, shared_error},
        types::parse_id,
    },
    order::graphql::Order,
    profile::graphql::User,
};

/// A repository or a preview URL linked to an order, or to one of its milestones, by one of
/// its parties. The pull requests and CI checks of a linked repository arrive through
/// GitHub's webhook (`POST /webhooks/github`) and show on the order and the milestone.
#[derive(async_graphql::Description)]
pub struct CodeLink(pub CodeLinkRow);

#[Object(use_type_description)]
impl CodeLink {
    /// Opaque id: pass it to `removeCodeLink`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// A repository or a preview.
    async fn kind(&self) -> CodeLinkKind {
        self.0.kind
    }
    /// REPOSITORY: `owner/name` as it was linked.
    async fn repository(&self) -> Option<&str> {
        self.0.repository.as_deref()
    }
    /// REPOSITORY: its page on GitHub; PREVIEW: the preview URL.
    async fn url(&self) -> String {
        match (&self.0.url, &self.0.repository) {
            (Some(url), _) => url.clone(),
            (None, Some(repository)) => format!("https://github.com/{repository}"),
            (None, None) => String::new(),
        }
    }
    /// The milestone it is linked to; null when linked to the whole order.
    async fn milestone_id(&self) -> Option<ID> {
        self.0.milestone_id.map(|id| ID(id.to_string()))
    }
    /// The party who linked it.
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::on_record(ctx, self.0.created_by).await
    }
    /// When it was linked (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A pull request of a linked repository, as GitHub last reported it.
#[derive(async_graphql::Description)]
pub struct PullRequest(pub PullRequestRow);

#[Object(use_type_description)]
impl PullRequest {
    /// Opaque id: the `ref` of PR dispute evidence.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// `owner/name` of its repository.
    async fn repository(&self) -> &str {
        &self.0.repository
    }
    /// Its number in the repository.
    async fn number(&self) -> i32 {
        self.0.number
    }
    /// Its title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Its page on GitHub.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// Open, closed or merged.
    async fn status(&self) -> PullRequestState {
        self.0.state
    }
    /// The commit at its head; `checks` are this commit's.
    async fn head_sha(&self) -> &str {
        &self.0.head_sha
    }
    /// The GitHub login of its author.
    async fn author_login(&self) -> &str {
        &self.0.author_login
    }
    /// The combined state of `checks`.
    async fn checks_state(&self) -> ChecksState {
        self.0.checks_state
    }
    /// The CI checks of its head commit, by name: the latest check run per name, check suite
    /// per app and commit status per context.
    async fn checks(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CiCheck>> {
        let rows = load_list(ctx, ChecksOf(self.0.id)).await?;
        Ok(rows.iter().map(|c| CiCheck(c.row.clone())).collect())
    }
    /// When GitHub last changed it (UTC).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A CI check of a commit of a linked repository.
#[derive(async_graphql::Description)]
pub struct CiCheck(pub CheckRow);

#[Object(use_type_description)]
impl CiCheck {
    /// Opaque id: the `ref` of CI dispute evidence.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The check run's name, the check suite's app, or the commit status's context.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Queued, running, or how it finished.
    async fn status(&self) -> CheckStatus {
        self.0.status
    }
    /// Its page (the run's on GitHub, or the status's target); null when GitHub gave none.
    async fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }
    /// Which GitHub object reported it.
    async fn source(&self) -> CheckSource {
        self.0.source
    }
    /// The commit it checked.
    async fn head_sha(&self) -> &str {
        &self.0.head_sha
    }
    /// GitHub's time of its current status (UTC).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.status_at
    }
}

impl PullRequest {
    /// The pull request `id` (PR dispute evidence), if it still exists.
    pub async fn on_record(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<Self>> {
        let row = ctx.loader().load_one(PullRequestById(id)).await.map_err(shared_error)?;
        Ok(row.map(|r| PullRequest((*r).clone())))
    }
}

impl CiCheck {
    /// The check `id` (CI dispute evidence), if it still exists.
    pub async fn on_record(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<Self>> {
        let row = ctx.loader().load_one(CheckById(id)).await.map_err(shared_error)?;
        Ok(row.map(|r| CiCheck((*r).clone())))
    }
}

/// `Order.codeLinks`.
pub async fn links_of_order(ctx: &Context<'_>, order_id: Uuid) -> async_graphql::Result<Vec<CodeLink>> {
    let rows = load_list(ctx, CodeLinksOf(order_id)).await?;
    Ok(rows.iter().cloned().map(CodeLink).collect())
}

/// `Order.pullRequests`.
pub async fn pull_requests_of_order(ctx: &Context<'_>, order_id: Uuid) -> async_graphql::Result<Vec<PullRequest>> {
    let rows = load_list(ctx, PullRequestsOfOrder(order_id)).await?;
    Ok(rows.iter().map(|p| PullRequest(p.row.clone())).collect())
}

/// `OrderMilestone.pullRequests`.
pub async fn pull_requests_of_milestone(
    ctx: &Context<'_>,
    milestone_id: Uuid,
) -> async_graphql::Result<Vec<PullRequest>> {
    let rows = load_list(ctx, PullRequestsOfMilestone(milestone_id)).await?;
    Ok(rows.iter().map(|p| PullRequest(p.row.clone())).collect())
}

/// A GitHub repository to link.
#[derive(InputObject)]
pub struct LinkRepositoryInput {
    /// An order you are the client or the freelancer of, not yet final.
    pub order_id: ID,
    /// One of the order's milestones; omit to link the repository to the whole order.
    pub milestone_id: Option<ID>,
    /// `owner/name` (or its `https://github.com/owner/name` URL), as GitHub names it.
    pub repository: String,
}

/// A preview URL to link.
#[derive(InputObject)]
pub struct AddPreviewUrlInput {
    /// An order you are the client or the freelancer of, not yet final.
    pub order_id: ID,
    /// One of the order's milestones; omit to link the preview to the whole order.
    pub milestone_id: Option<ID>,
    /// An http(s) URL of up to 2,000 characters.
    pub url: String,
}

#[derive(Default)]
pub struct CodeLinkMutation;

#[Object]
impl CodeLinkMutation {
    /// Links a GitHub repository to an order or one of its milestones (parties only). Its pull
    /// requests and CI checks then show on the order (`pullRequests`) and on the milestone it
    /// is linked to (or, linked to the whole order, on its milestone when it has only one),
    /// once GitHub delivers them to `POST /webhooks/github`. A repository is linked once per
    /// order (CONFLICT), and an order holds at most 20 links (LIMIT_EXCEEDED).
    async fn link_repository(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order (and milestone) and the repository to link.")] input: LinkRepositoryInput,
    ) -> async_graphql::Result<CodeLink> {
        let (order_id, milestone_id) = ids(&input.order_id, input.milestone_id.as_ref())?;
        let viewer = ctx.viewer()?;
        let row = service::link(
            ctx.app(),
            &viewer.user,
            order_id,
            milestone_id,
            Target::Repository(input.repository),
        )
        .await?;
        Ok(CodeLink(row))
    }

    /// Links a preview URL (a deployed build of the work) to an order or one of its milestones
    /// (parties only); once per order (CONFLICT).
    async fn add_preview_url(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order (and milestone) and the preview URL to link.")] input: AddPreviewUrlInput,
    ) -> async_graphql::Result<CodeLink> {
        let (order_id, milestone_id) = ids(&input.order_id, input.milestone_id.as_ref())?;
        let viewer = ctx.viewer()?;
        let row = service::link(
            ctx.app(),
            &viewer.user,
            order_id,
            milestone_id,
            Target::Preview(input.url),
        )
        .await?;
        Ok(CodeLink(row))
    }

    /// Removes a repository or preview link from a live order (parties only); answers the
    /// order. The repository's pull requests no longer show on it.
    async fn remove_code_link(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A `CodeLink` of an order you are a party of.")] id: ID,
    ) -> async_graphql::Result<Order> {
        let id = parse_id(&id, "id")?;
        let viewer = ctx.viewer()?;
        let order = service::unlink(ctx.app(), &viewer.user, id).await?;
        Ok(Order::new(order))
    }
}

fn ids(order_id: &ID, milestone_id: Option<&ID>) -> async_graphql::Result<(Uuid, Option<Uuid>)> {
    let order_id = parse_id(order_id, "orderId")?;
    let milestone_id = milestone_id.map(|id| parse_id(id, "milestoneId")).transpose()?;
    Ok((order_id, milestone_id))
}
