//! Reading the audit log. Admin actions themselves live with the domain they act on (an
//! order override in `order`, a verification review in `verification`, an SOS step in `sos`)
//! and record their entry through [`super::model::record`] in their own transaction.

use uuid::Uuid;

use super::model::{self, AuditRow, Filter};
use crate::{
    db::page::{Page, PageRequest},
    error::AppResult,
    state::AppState,
};

/// A page of the audit log, newest first, narrowed by `filter`.
pub async fn audit_log(app: &AppState, filter: &Filter, request: &PageRequest<Uuid>) -> AppResult<Page<AuditRow>> {
    let mut conn = app.db.conn().await?;
    Ok(request
        .fetch(
            &mut conn,
            async |c, before, limit| model::page(c, filter, before.copied(), limit).await,
            async |c| model::count(c, filter).await,
        )
        .await?)
}
