//! Vouching, its validation rules, and removing a vouch.

use chrono::Utc;
use uuid::Uuid;

use super::model::{self, SkillCount, VouchRow};
use crate::{
    error::{AppError, AppResult, FieldErrors},
    notification::service::{self as notification, Kind},
    profile::model::{self as profiles, UserRow},
    state::AppState,
    validation,
};

pub const SKILL_AREA_MIN: usize = 2;
pub const SKILL_AREA_MAX: usize = 40;
pub const MESSAGE_MAX: usize = 500;

/// A skill area as stored: trimmed, inner whitespace collapsed to one space, lower case; or
/// why it is not acceptable.
pub fn normalize_skill_area(raw: &str) -> Result<String, String> {
    let area = raw.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let chars = area.chars().count();
    if !(SKILL_AREA_MIN..=SKILL_AREA_MAX).contains(&chars) {
        return Err(format!("must be {SKILL_AREA_MIN} to {SKILL_AREA_MAX} characters"));
    }
    if !area.chars().all(|c| c.is_alphanumeric() || " -_&+#./".contains(c)) {
        return Err("may contain letters, digits, spaces and - _ & + # . / only".into());
    }
    Ok(area)
}

/// The skill area a list is narrowed to, normalised; `VALIDATION_ERROR` on `skillArea` when
/// it is not one.
pub fn skill_area_filter(raw: Option<String>) -> AppResult<Option<String>> {
    raw.map(|area| normalize_skill_area(&area).map_err(|problem| AppError::field("skillArea", problem)))
        .transpose()
}

/// How many vouches the per-area `counts` add up to, in `skill_area` only when given.
pub fn total_in(counts: &[SkillCount], skill_area: Option<&str>) -> i64 {
    counts
        .iter()
        .filter(|c| skill_area.is_none_or(|area| area == c.skill_area))
        .map(|c| c.count)
        .sum()
}

/// What `vouchFor` takes.
pub struct VouchInput {
    pub vouchee_id: Uuid,
    pub skill_area: String,
    pub message: Option<String>,
}

/// Vouches for a user's skill in an area, or replaces the message of the viewer's existing
/// vouch for that area. The vouchee is notified of a new vouch (not of an edit).
pub async fn vouch(app: &AppState, voucher: &UserRow, input: VouchInput) -> AppResult<VouchRow> {
    if voucher.is_banned() {
        return Err(crate::auth::banned());
    }
    let mut errors = FieldErrors::new();
    if input.vouchee_id == voucher.id {
        errors.add("userId", "must be someone other than you");
    }
    let skill_area = normalize_skill_area(&input.skill_area).unwrap_or_else(|problem| {
        errors.add("skillArea", problem);
        String::new()
    });
    let message = validation::optional_text("message", input.message, MESSAGE_MAX, &mut errors);
    errors.into_result()?;

    let now = Utc::now();
    let row = VouchRow {
        id: Uuid::now_v7(),
        voucher_id: voucher.id,
        vouchee_id: input.vouchee_id,
        skill_area,
        message,
        created_at: now,
        updated_at: now,
    };
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            profiles::find(conn, row.vouchee_id)
                .await?
                .filter(|u| !u.is_banned())
                .ok_or_else(|| AppError::not_found("User"))?;
            let stored = model::upsert(conn, &row).await?;
            if stored.id == row.id {
                notification::notify(
                    conn,
                    stored.vouchee_id,
                    Kind::System,
                    &format!("{} vouched for you", voucher.full_name),
                    &format!("Skill area: {}", stored.skill_area),
                    serde_json::json!({
                        "vouchId": stored.id,
                        "voucherId": voucher.id,
                        "skillArea": stored.skill_area,
                    }),
                )
                .await?;
            }
            Ok(stored)
        })
        .await
}

/// Takes back one of the viewer's vouches; returns its id.
pub async fn remove(app: &AppState, viewer: &UserRow, id: Uuid) -> AppResult<Uuid> {
    let mut conn = app.db.conn().await?;
    let vouch = model::find(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("Vouch"))?;
    if vouch.voucher_id != viewer.id {
        return Err(AppError::Forbidden(
            "Only the member who gave a vouch can remove it.".into(),
        ));
    }
    model::delete(&mut conn, id).await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skill_areas_are_normalised_and_checked() {
        assert_eq!(normalize_skill_area("  LED   Tech ").unwrap(), "led tech");
        assert_eq!(normalize_skill_area("fire_safety").unwrap(), "fire_safety");
        assert_eq!(normalize_skill_area("C++ / C#").unwrap(), "c++ / c#");
        assert!(normalize_skill_area("x").is_err());
        assert!(normalize_skill_area(&"a".repeat(41)).is_err());
        assert!(normalize_skill_area("<script>").is_err());
        assert!(normalize_skill_area("   ").is_err());
    }
}
