//! Vouches over GraphQL: the `Vouch` type, `vouchFor`/`removeVouch`, and the lists a `User`
//! shows (`User.vouches`, `User.vouchSummary`, `User.vouchCount`).

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    loaders::{VouchPageOf, VouchSkillsOf},
    model::{SkillCount, VouchRow},
    service::{self, VouchInput},
};
use crate::{
    graphql::{
        context::ContextExt,
        loader::load_list,
        pagination::{connection, page_request, ListConnection},
        types::parse_id,
    },
    profile::graphql::User,
};

/// One member vouching for another's skill in an area (peer endorsement; seen on
/// `User.vouches`). A member vouches at most once per member and area.
#[derive(async_graphql::Description)]
pub struct Vouch(Arc<VouchRow>);

#[Object(use_type_description)]
impl Vouch {
    /// The vouch's id (pass it to `removeVouch`).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Who vouches (null if they are no longer visible).
    async fn voucher(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, self.0.voucher_id).await
    }
    /// Who is vouched for.
    async fn vouchee(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, self.0.vouchee_id).await
    }
    /// The skill area, normalised: lower case, single spaces (e.g. `fire safety`).
    async fn skill_area(&self) -> &str {
        &self.0.skill_area
    }
    /// What the voucher says about the vouchee's work.
    async fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }
    /// When the vouch was first given.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the message last changed (vouching again for the same area replaces it).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// How many members vouch for a user in one skill area.
#[derive(SimpleObject)]
pub struct SkillVouches {
    /// The skill area, normalised.
    pub skill_area: String,
    /// How many members vouch for it.
    pub count: i64,
}

/// The vouches of `user_id`, newest first (`User.vouches`). The page comes through the
/// loader, so that a list of users costs one statement (the loader is this list's query;
/// `PageRequest::paginate` makes its page); `totalCount` comes from the per-area counts.
pub async fn vouches_of(
    ctx: &Context<'_>,
    user_id: Uuid,
    skill_area: Option<String>,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<ListConnection<Vouch>> {
    let request = page_request(ctx, first, after.as_deref())?;
    let skill_area = service::skill_area_filter(skill_area)?;
    let total = if request.with_total {
        Some(service::total_in(
            &skill_counts(ctx, user_id).await?,
            skill_area.as_deref(),
        ))
    } else {
        None
    };
    let key = VouchPageOf {
        vouchee: user_id,
        skill_area,
        before: request.after,
        limit: request.limit(),
    };
    let rows = load_list(ctx, key).await?;
    let page = request.paginate(rows.iter().cloned().map(Arc::new).collect(), total);
    Ok(connection(page, |row: &Arc<VouchRow>| row.id, Vouch))
}

async fn skill_counts(ctx: &Context<'_>, user_id: Uuid) -> async_graphql::Result<Arc<Vec<SkillCount>>> {
    load_list(ctx, VouchSkillsOf(user_id)).await
}

/// Per skill area, how many members vouch for `user_id`; most vouched first.
pub async fn summary_of(ctx: &Context<'_>, user_id: Uuid) -> async_graphql::Result<Vec<SkillVouches>> {
    Ok(skill_counts(ctx, user_id)
        .await?
        .iter()
        .map(|c| SkillVouches {
            skill_area: c.skill_area.clone(),
            count: c.count,
        })
        .collect())
}

/// How many vouches `user_id` has in all areas.
pub async fn count_of(ctx: &Context<'_>, user_id: Uuid) -> async_graphql::Result<i64> {
    Ok(service::total_in(&skill_counts(ctx, user_id).await?, None))
}

/// A vouch to give (or to change the message of).
#[derive(InputObject)]
pub struct VouchForInput {
    /// The member vouched for: anyone but yourself.
    pub user_id: ID,
    /// 2 to 40 characters: letters, digits, spaces and `- _ & + # . /`, e.g. `fire safety`.
    /// Compared ignoring case and spacing.
    pub skill_area: String,
    /// Up to 500 characters about their work.
    pub message: Option<String>,
}

#[derive(Default)]
pub struct VouchMutation;

#[Object]
impl VouchMutation {
    /// Vouches for a member's skill in an area; they are notified. Vouching again for the same
    /// member and area replaces the message of your existing vouch (no second vouch, no second
    /// notification). `VALIDATION_ERROR` names each bad field; `NOT_FOUND` when there is no
    /// such (visible) member.
    async fn vouch_for(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whom you vouch for, the skill area and an optional message.")] input: VouchForInput,
    ) -> async_graphql::Result<Vouch> {
        let viewer = ctx.viewer()?;
        let vouchee_id = parse_id(&input.user_id, "userId")?;
        let row = service::vouch(
            ctx.app(),
            &viewer.user,
            VouchInput {
                vouchee_id,
                skill_area: input.skill_area,
                message: input.message,
            },
        )
        .await?;
        Ok(Vouch(Arc::new(row)))
    }

    /// Takes back a vouch you gave, for good; returns its id. `FORBIDDEN` for someone else's
    /// vouch, `NOT_FOUND` when there is none.
    async fn remove_vouch(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The vouch's `id`.")] id: ID,
    ) -> async_graphql::Result<ID> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        let removed = service::remove(ctx.app(), &viewer.user, id).await?;
        Ok(ID(removed.to_string()))
    }
}
