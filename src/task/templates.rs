//! Task templates: common kinds of projects with a milestone plan to start from. The schema
//! shows them as they are written here (`TaskTemplate`, `TemplateMilestone`).

/// One milestone of a template.
#[derive(async_graphql::SimpleObject)]
pub struct TemplateMilestone {
    /// What the milestone delivers.
    pub title: &'static str,
    /// What it covers.
    pub description: &'static str,
    /// Its share of the task's `budgetMaxCents` in basis points (1,500 = 15%); a template's
    /// shares add up to 10,000.
    pub share_bps: i64,
    /// Due this many days after the order is made.
    pub due_in_days: i32,
}

/// A template that prefills a task's category and milestone plan (`templateKey`).
#[derive(async_graphql::SimpleObject)]
#[graphql(name = "TaskTemplate")]
pub struct Template {
    /// Pass it as `templateKey` when posting a task, e.g. `SAAS_MVP`.
    pub key: &'static str,
    /// A display name, e.g. "SaaS MVP".
    pub name: &'static str,
    /// The category a task from this template gets when it names none.
    pub category: &'static str,
    /// The plan: each milestone takes a share of the task's maximum budget.
    pub milestones: &'static [TemplateMilestone],
}

const fn m(title: &'static str, description: &'static str, share_bps: i64, due_in_days: i32) -> TemplateMilestone {
    TemplateMilestone {
        title,
        description,
        share_bps,
        due_in_days,
    }
}

/// The templates on offer (`taskTemplates`). Kept as a table, one milestone a line, which
/// rustfmt would break up.
#[rustfmt::skip]
pub const TEMPLATES: &[Template] = &[
    Template {
        key: "SAAS_MVP",
        name: "SaaS MVP",
        category: "development",
        milestones: &[
            m("Scope and design", "User stories, wireframes and a technical plan", 1500, 7),
            m("Core features", "Sign-up, the main workflow and the data model, deployed to staging", 4500, 28),
            m("Billing and polish", "Payments, emails, error handling and tests", 2500, 42),
            m("Launch", "Production deployment, monitoring and handover", 1500, 49),
        ],
    },
    Template {
        key: "SHOPIFY_APP",
        name: "Shopify app",
        category: "development",
        milestones: &[
            m("App scaffold", "Partner app, OAuth install flow and admin embed", 2500, 7),
            m("Features", "The app's features against the Shopify APIs", 5000, 21),
            m("Review and listing", "App store review fixes and listing assets", 2500, 30),
        ],
    },
    Template {
        key: "MOBILE_APP",
        name: "Mobile app",
        category: "development",
        milestones: &[
            m("Design", "Screens and flows for iOS and Android", 2000, 10),
            m("Build", "The app against the agreed API", 5500, 45),
            m("Store release", "Store listings, review fixes and release", 2500, 60),
        ],
    },
    Template {
        key: "LANDING_PAGE",
        name: "Landing page",
        category: "design",
        milestones: &[
            m("Design", "Layout and copy for review", 4000, 4),
            m("Build and launch", "Responsive page, analytics and deployment", 6000, 10),
        ],
    },
    Template {
        key: "AI_AGENT",
        name: "AI agent or automation",
        category: "ai",
        milestones: &[
            m("Prototype", "A working prototype on sample data", 3500, 10),
            m("Integration", "Connected to the real systems with guardrails", 4500, 24),
            m("Evaluation and handover", "Evaluation report, docs and handover", 2000, 30),
        ],
    },
];

/// The template called `key`.
pub fn find(key: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.key == key)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_shares_the_whole_budget() {
        for template in super::TEMPLATES {
            assert_eq!(
                template.milestones.iter().map(|m| m.share_bps).sum::<i64>(),
                10_000,
                "{}",
                template.key
            );
        }
    }
}
