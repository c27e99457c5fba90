//! Plan limits, and billing through Stripe ([`billing`]: checkout, portal, cancel;
//! [`subscription`]: what the webhooks report).

pub mod billing;
pub mod subscription;

use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use uuid::Uuid;

use super::model::{self, PlanRow};
use crate::{
    db::Db,
    error::{AppError, AppResult},
};

/// Where a user stands against their plan's posting limit this month.
pub struct Usage {
    pub plan: PlanRow,
    pub posts_used: i64,
}

impl Usage {
    pub fn can_post(&self) -> bool {
        self.plan
            .monthly_post_limit
            .is_none_or(|limit| self.posts_used < i64::from(limit))
    }
}

pub async fn usage(db: &Db, user_id: Uuid) -> AppResult<Usage> {
    let mut conn = db.conn().await?;
    Ok(Usage {
        plan: model::of_user(&mut conn, user_id).await?,
        posts_used: model::posts_this_month(&mut conn, user_id).await?,
    })
}

pub async fn plans(db: &Db) -> AppResult<Vec<PlanRow>> {
    let mut conn = db.conn().await?;
    Ok(model::all(&mut conn).await?)
}

/// Refuses a post past the plan's monthly limit. Call inside the posting transaction: it
/// takes a per-user lock held until commit, so concurrent posts are counted one by one.
pub async fn claim_post(conn: &mut AsyncPgConnection, user_id: Uuid) -> AppResult<()> {
    conn.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock(hashtext('plan-posts:{user_id}'))"
    ))
    .await?;
    let usage = Usage {
        plan: model::of_user(conn, user_id).await?,
        posts_used: model::posts_this_month(conn, user_id).await?,
    };
    if usage.can_post() {
        Ok(())
    } else {
        Err(AppError::LimitExceeded(format!(
            "The {} plan allows {} task posts a month; upgrade to post more.",
            usage.plan.name,
            usage.plan.monthly_post_limit.unwrap_or_default()
        )))
    }
}
