//! The order's shared workspace: the task board (cards in TODO, DOING, DONE) and each
//! milestone's definition-of-done checklist. Only the parties of an order that is not final
//! change them.

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

use super::roles_of;
use crate::{
    error::{AppError, AppResult, FieldErrors},
    order::model::{self, BoardItemRow, BoardItemStatus, ChecklistItem, MilestoneRow, OrderRow},
    profile::model::UserRow,
    state::AppState,
    validation,
};

const BOARD_MAX: i64 = 100;
const CHECKLIST_MAX: usize = 20;

/// Checks that the viewer is a party of `order`, a live (not final) one, and returns it;
/// `NOT_FOUND` names `thing` (what the viewer asked for: the order, a card, a milestone)
/// when there is no such order or the viewer may not see it.
fn party_of_open_order(order: Option<OrderRow>, viewer: &UserRow, thing: &str) -> AppResult<OrderRow> {
    let order = order
        .filter(|o| !roles_of(o, viewer).is_empty())
        .ok_or_else(|| AppError::not_found(thing))?;
    if !order.is_party(viewer.id) {
        return Err(AppError::Forbidden("Only the order's parties work on it.".into()));
    }
    if order.status.is_final() {
        return Err(AppError::Conflict(format!("The order is {}.", order.status)));
    }
    Ok(order)
}

/// Adds an item to the order's board (TODO).
pub async fn add_board_item(app: &AppState, viewer: &UserRow, order_id: Uuid, title: &str) -> AppResult<BoardItemRow> {
    let mut errors = FieldErrors::new();
    let title = validation::text("title", title, 1, 200, false, &mut errors);
    errors.into_result()?;
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        // Serialises additions to one order so the cap holds.
        let order = party_of_open_order(model::lock(conn, order_id).await?, viewer, "Order")?;
        if model::board_count(conn, order.id).await? >= BOARD_MAX {
            return Err(AppError::LimitExceeded(format!(
                "A board holds at most {BOARD_MAX} items."
            )));
        }
        let now = Utc::now();
        let row = BoardItemRow {
            id: Uuid::now_v7(),
            order_id: order.id,
            title,
            status: BoardItemStatus::Todo,
            created_by: viewer.id,
            created_at: now,
            updated_at: now,
        };
        model::insert_board_item(conn, &row).await?;
        Ok(row)
    })
    .await
}

/// Checks that the viewer works on the order of board item `id`.
async fn own_board_item(conn: &mut AsyncPgConnection, viewer: &UserRow, id: Uuid) -> AppResult<()> {
    let item = model::find_board_item(conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("Board item"))?;
    party_of_open_order(model::find(conn, item.order_id).await?, viewer, "Board item").map(drop)
}

/// Moves a board item to TODO, DOING or DONE.
pub async fn move_board_item(
    app: &AppState,
    viewer: &UserRow,
    id: Uuid,
    status: BoardItemStatus,
) -> AppResult<BoardItemRow> {
    let mut conn = app.db.conn().await?;
    own_board_item(&mut conn, viewer, id).await?;
    Ok(model::set_board_item_status(&mut conn, id, status).await?)
}

/// Removes a board item; returns its id.
pub async fn delete_board_item(app: &AppState, viewer: &UserRow, id: Uuid) -> AppResult<Uuid> {
    let mut conn = app.db.conn().await?;
    own_board_item(&mut conn, viewer, id).await?;
    model::delete_board_item(&mut conn, id).await?;
    Ok(id)
}

/// Replaces a milestone's definition-of-done checklist (items and their ticks).
pub async fn set_checklist(
    app: &AppState,
    viewer: &UserRow,
    milestone_id: Uuid,
    items: Vec<ChecklistItem>,
) -> AppResult<MilestoneRow> {
    let mut errors = FieldErrors::new();
    if items.len() > CHECKLIST_MAX {
        errors.add("items", format!("must have at most {CHECKLIST_MAX} entries"));
    }
    let items: Vec<ChecklistItem> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| ChecklistItem {
            text: validation::text(&format!("items.{i}.text"), &item.text, 1, 200, false, &mut errors),
            done: item.done,
        })
        .collect();
    errors.into_result()?;
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let milestone = model::lock_milestone(conn, milestone_id)
            .await?
            .ok_or_else(|| AppError::not_found("Milestone"))?;
        party_of_open_order(model::find(conn, milestone.order_id).await?, viewer, "Milestone")?;
        Ok(model::set_checklist(
            conn,
            milestone.id,
            serde_json::to_value(&items).map_err(AppError::internal)?,
        )
        .await?)
    })
    .await
}
