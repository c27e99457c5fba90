//! What tasks take, and its rules: the fields of `postTask`/`updateTask` ([`TaskInput`],
//! [`validate`]) and a list's [`TaskFilter`].

use chrono::{DateTime, Utc};

use crate::{
    error::{AppResult, FieldErrors},
    profile,
    task::{
        model::{BudgetType, Filter, LocationType, Milestone, PostedWithin, TaskDuration, TaskFields, TaskMode},
        templates,
    },
    validation,
};

const TITLE: (usize, usize) = (10, 150);
const DESCRIPTION: (usize, usize) = (30, 20_000);
const CATEGORY: (usize, usize) = (2, 60);
const LIST_MAX: usize = 20;
/// A list filter's search text, at most.
const SEARCH_MAX: usize = 200;
const LABEL_MAX: usize = 40;
const BUDGET_MIN_CENTS: i64 = 100;
const BUDGET_MAX_CENTS: i64 = 10_000_000_000;
const MILESTONES_MAX: usize = 20;
const ADDRESS_MAX: usize = 300;
/// An IMMEDIATE task's offer stands for this long at least, and at most…
const DEADLINE_MIN_MINUTES: i64 = 5;
const DEADLINE_MAX_HOURS: i64 = 72;

/// What `postTask` and `updateTask` take, unchecked. It mirrors the schema's
/// `TaskInputObject` because that one holds a GraphQL type (`GeoPointInput`) this layer does
/// not import; the location is a plain (lat, lng) here.
#[derive(Debug, Clone)]
pub struct TaskInput {
    /// 10 to 150 characters.
    pub title: String,
    /// 30 to 20,000 characters, line breaks allowed.
    pub description: String,
    /// 2 to 60 characters, or empty to take the template's.
    pub category: String,
    /// Up to 20 labels of up to 40 characters (duplicates dropped).
    pub skills_required: Vec<String>,
    /// As `skills_required`.
    pub ai_tools_preferred: Vec<String>,
    /// FIXED: the milestones must fit in `budget_max_cents`.
    pub budget_type: BudgetType,
    /// Minor units, 100 to 10,000,000,000.
    pub budget_min_cents: i64,
    /// At least `budget_min_cents`.
    pub budget_max_cents: i64,
    /// ISO 4217, any case.
    pub currency: String,
    /// The expected length of the work (recorded only).
    pub duration: TaskDuration,
    /// Anything but REMOTE needs `address` and `location`.
    pub location_type: LocationType,
    /// Up to 300 characters; dropped for REMOTE tasks.
    pub address: Option<String>,
    /// The exact (lat, lng); dropped for REMOTE tasks.
    pub location: Option<(f64, f64)>,
    /// Up to 20; empty takes the template's plan.
    pub milestones: Vec<Milestone>,
    /// Recorded, not enforced.
    pub nda_required: bool,
    /// Recorded, not enforced.
    pub ip_transfer: bool,
    /// One of [`templates::TEMPLATES`].
    pub template_key: Option<String>,
    /// STANDARD (applications) or IMMEDIATE (first accept wins).
    pub mode: TaskMode,
    /// IMMEDIATE tasks only: when the offer lapses.
    pub acceptance_deadline: Option<DateTime<Utc>>,
}

/// Validates `input` into the stored fields, prefilling milestones from a template.
pub fn validate(input: TaskInput, errors: &mut FieldErrors) -> TaskFields {
    let title = validation::text("title", &input.title, TITLE.0, TITLE.1, false, errors);
    let description = validation::text(
        "description",
        &input.description,
        DESCRIPTION.0,
        DESCRIPTION.1,
        true,
        errors,
    );
    let template = match input.template_key.as_deref() {
        Some(key) => {
            let found = templates::find(key);
            if found.is_none() {
                errors.add("templateKey", "is not one of taskTemplates");
            }
            found
        }
        None => None,
    };
    let category = match (input.category.trim().is_empty(), template) {
        (true, Some(t)) => t.category.to_owned(),
        _ => validation::text("category", &input.category, CATEGORY.0, CATEGORY.1, false, errors),
    };
    let skills_required = validation::tags("skillsRequired", input.skills_required, LIST_MAX, LABEL_MAX, errors);
    let ai_tools_preferred = validation::tags(
        "aiToolsPreferred",
        input.ai_tools_preferred,
        LIST_MAX,
        LABEL_MAX,
        errors,
    );
    let currency = validation::currency("currency", &input.currency, errors);
    if !(BUDGET_MIN_CENTS..=BUDGET_MAX_CENTS).contains(&input.budget_min_cents) {
        errors.add(
            "budgetMinCents",
            format!("must be between {BUDGET_MIN_CENTS} and {BUDGET_MAX_CENTS}"),
        );
    }
    if input.budget_max_cents < input.budget_min_cents || input.budget_max_cents > BUDGET_MAX_CENTS {
        errors.add("budgetMaxCents", "must be at least budgetMinCents and within range");
    }
    let address = validation::optional_text("address", input.address, ADDRESS_MAX, errors);
    if let Some((lat, lng)) = input.location {
        if profile::service::check_coordinates(lat, lng).is_err() {
            errors.add("location", "must be valid WGS84 coordinates");
        }
    }
    let remote = input.location_type == LocationType::Remote;
    if !remote && (input.location.is_none() || address.is_none()) {
        errors.add("location", "on-site and hybrid tasks need an address and coordinates");
    }
    let mut milestones = input.milestones;
    if milestones.is_empty() {
        if let Some(template) = template {
            milestones = template
                .milestones
                .iter()
                .map(|m| Milestone {
                    title: m.title.to_owned(),
                    description: m.description.to_owned(),
                    amount_cents: input.budget_max_cents * m.share_bps / 10_000,
                    due_in_days: m.due_in_days,
                })
                .collect();
        }
    }
    if milestones.len() > MILESTONES_MAX {
        errors.add("milestones", format!("must have at most {MILESTONES_MAX} entries"));
    }
    for (i, m) in milestones.iter_mut().enumerate() {
        m.title = validation::text(&format!("milestones.{i}.title"), &m.title, 3, 120, false, errors);
        m.description = validation::text(
            &format!("milestones.{i}.description"),
            &m.description,
            0,
            2000,
            true,
            errors,
        );
        if m.amount_cents <= 0 {
            errors.add(format!("milestones.{i}.amountCents"), "must be positive");
        }
        if !(1..=730).contains(&m.due_in_days) {
            errors.add(format!("milestones.{i}.dueInDays"), "must be between 1 and 730");
        }
    }
    if input.budget_type == BudgetType::Fixed
        && milestones.iter().map(|m| m.amount_cents).sum::<i64>() > input.budget_max_cents
    {
        errors.add("milestones", "must not add up to more than budgetMaxCents");
    }
    let immediate = input.mode == TaskMode::Immediate;
    match input.acceptance_deadline {
        Some(deadline) if immediate => {
            let ahead = deadline - Utc::now();
            if ahead < chrono::Duration::minutes(DEADLINE_MIN_MINUTES)
                || ahead > chrono::Duration::hours(DEADLINE_MAX_HOURS)
            {
                errors.add(
                    "acceptanceDeadline",
                    format!("must be {DEADLINE_MIN_MINUTES} minutes to {DEADLINE_MAX_HOURS} hours from now"),
                );
            }
        }
        None if immediate => errors.add("acceptanceDeadline", "is required for IMMEDIATE tasks"),
        Some(_) => errors.add("acceptanceDeadline", "applies to IMMEDIATE tasks only"),
        None => {}
    }
    if immediate && remote {
        errors.add("locationType", "IMMEDIATE tasks happen on site: ONSITE or HYBRID");
    }
    TaskFields {
        title,
        description,
        category,
        skills_required,
        ai_tools_preferred,
        budget_type: input.budget_type,
        budget_min_cents: input.budget_min_cents,
        budget_max_cents: input.budget_max_cents,
        currency,
        duration: input.duration,
        location_type: input.location_type,
        address: if remote { None } else { address },
        latitude: input.location.filter(|_| !remote).map(|l| l.0),
        longitude: input.location.filter(|_| !remote).map(|l| l.1),
        milestone_plan: serde_json::to_value(&milestones).unwrap_or_default(),
        nda_required: input.nda_required,
        ip_transfer: input.ip_transfer,
        template_key: input.template_key,
        public_latitude: None,
        public_longitude: None,
        geohash: None,
        mode: input.mode,
        acceptance_deadline: input.acceptance_deadline,
    }
}

// The schema's `TaskFilter` input is this very type, so no layer mirrors it; the service
// checks it into the query's `model::Filter`.
/// Narrows a task list: every field given must match; omitted fields do not filter.
#[derive(Debug, Default, async_graphql::InputObject)]
pub struct TaskFilter {
    /// Full-text search (English stemming) over title, skills and description, in web-search
    /// syntax (`"exact phrase"`, `-word`, `or`); up to 200 characters.
    pub search: Option<String>,
    /// An exact category, e.g. `development`.
    pub category: Option<String>,
    /// Tasks asking for any of these skills (exact, case-sensitive; up to 20).
    pub skills: Option<Vec<String>>,
    /// Tasks preferring any of these AI tools (exact, case-sensitive; up to 20).
    pub ai_tools: Option<Vec<String>>,
    /// The budget reaches at least this (minor units): tasks whose `budgetMaxCents` is at
    /// least this.
    pub budget_min: Option<i64>,
    /// The budget starts at most at this (minor units): tasks whose `budgetMinCents` is at
    /// most this. Must not be below `budgetMin`.
    pub budget_max: Option<i64>,
    /// Only tasks with this location type.
    pub location_type: Option<LocationType>,
    /// Only tasks published within this period.
    pub posted_within: Option<PostedWithin>,
    /// Only STANDARD or only IMMEDIATE tasks.
    pub mode: Option<TaskMode>,
}

impl TaskFilter {
    /// The public-list filter this asks for, naming every field that breaks a rule.
    pub(super) fn check(self) -> AppResult<Filter> {
        let mut errors = FieldErrors::new();
        let search = self.search.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        if search.as_ref().is_some_and(|s| s.chars().count() > SEARCH_MAX) {
            errors.add("filter.search", format!("must be at most {SEARCH_MAX} characters"));
        }
        let skills = self.skills.unwrap_or_default();
        let ai_tools = self.ai_tools.unwrap_or_default();
        if skills.len() > LIST_MAX || ai_tools.len() > LIST_MAX {
            errors.add("filter.skills", "at most 20 skills and 20 AI tools");
        }
        if let (Some(min), Some(max)) = (self.budget_min, self.budget_max) {
            if max < min {
                errors.add("filter.budgetMax", "must not be below budgetMin");
            }
        }
        errors.into_result()?;
        Ok(Filter {
            search,
            category: self.category.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()),
            skills,
            ai_tools,
            budget_min: self.budget_min,
            budget_max: self.budget_max,
            location_type: self.location_type,
            posted_within: self.posted_within,
            mode: self.mode,
            poster: None,
            status: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> TaskInput {
        TaskInput {
            title: "Build a Shopify app for us".into(),
            description: "We need an app that syncs inventory with our warehouse system every hour.".into(),
            category: String::new(),
            skills_required: vec!["Shopify".into()],
            ai_tools_preferred: vec![],
            budget_type: BudgetType::Fixed,
            budget_min_cents: 200_000,
            budget_max_cents: 400_000,
            currency: "usd".into(),
            duration: TaskDuration::OneToFourWeeks,
            location_type: LocationType::Remote,
            address: None,
            location: None,
            milestones: vec![],
            nda_required: false,
            ip_transfer: true,
            template_key: Some("SHOPIFY_APP".into()),
            mode: TaskMode::Standard,
            acceptance_deadline: None,
        }
    }

    #[test]
    fn templates_prefill_milestones_from_the_budget() {
        let mut errors = FieldErrors::new();
        let fields = validate(input(), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(fields.category, "development");
        let milestones: Vec<Milestone> = serde_json::from_value(fields.milestone_plan).unwrap();
        assert_eq!(
            milestones.iter().map(|m| m.amount_cents).collect::<Vec<_>>(),
            [100_000, 200_000, 100_000]
        );
    }

    #[test]
    fn on_site_tasks_need_a_place_and_budgets_must_be_ordered() {
        let mut errors = FieldErrors::new();
        validate(
            TaskInput {
                location_type: LocationType::Onsite,
                budget_max_cents: 100_000,
                ..input()
            },
            &mut errors,
        );
        let fields: Vec<&str> = errors.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(fields, ["budgetMaxCents", "location"]);
    }
}
