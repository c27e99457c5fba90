//! Demo data for a fresh database (`gigmarket seed`) and bulk users for the load generator.
//! Idempotent: existing usernames are left alone.

use diesel_async::AsyncConnection;

use crate::{account, error::AppError, profile, profile::service::ProfileChanges, state::AppState};

/// Password of every demo account.
pub const DEMO_PASSWORD: &str = "gigmarket-demo";

struct Demo {
    username: &'static str,
    full_name: &'static str,
    headline: &'static str,
    skills: &'static [&'static str],
    location: (f64, f64, &'static str),
    rate_cents: i64,
    admin: bool,
}

const DEMOS: &[Demo] = &[
    Demo {
        username: "ada",
        full_name: "Ada Lovelace",
        headline: "Rust backend engineer",
        skills: &["Rust", "PostgreSQL", "GraphQL"],
        location: (51.5072, -0.1276, "London, United Kingdom"),
        rate_cents: 9_500,
        admin: false,
    },
    Demo {
        username: "grace",
        full_name: "Grace Hopper",
        headline: "Compiler whisperer and technical writer",
        skills: &["COBOL", "Technical writing", "Compilers"],
        location: (40.7128, -74.0060, "New York, USA"),
        rate_cents: 12_000,
        admin: false,
    },
    Demo {
        username: "linus",
        full_name: "Linus Client",
        headline: "Hiring for a SaaS MVP",
        skills: &[],
        location: (60.1699, 24.9384, "Helsinki, Finland"),
        rate_cents: 0,
        admin: false,
    },
    Demo {
        username: "moderator",
        full_name: "Mo Derator",
        headline: "gigmarket staff",
        skills: &[],
        location: (52.5200, 13.4050, "Berlin, Germany"),
        rate_cents: 0,
        admin: true,
    },
];

/// Creates the demo accounts that do not exist yet; returns how many were created.
pub async fn demo(app: &AppState) -> anyhow::Result<usize> {
    let mut created = 0;
    for demo in DEMOS {
        let existing = profile::service::find_by_username(&app.db, demo.username)
            .await
            .map_err(|e| anyhow::anyhow!("looking up {}: {e:?}", demo.username))?;
        if existing.is_some() {
            continue;
        }
        let session = account::service::sign_up(
            app,
            account::service::SignUp {
                email: format!("{}@example.com", demo.username),
                password: DEMO_PASSWORD.to_owned(),
                username: demo.username.to_owned(),
                full_name: demo.full_name.to_owned(),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating {}: {e:?}", demo.username))?;
        let id = session.user.id;
        profile::service::update_profile(
            &app.db,
            id,
            ProfileChanges {
                headline: Some(Some(demo.headline.to_owned())),
                bio: Some(Some(format!(
                    "{} is a demo account seeded by `gigmarket seed`.",
                    demo.full_name
                ))),
                skills: Some(demo.skills.iter().map(|s| s.to_string()).collect()),
                hourly_rate_cents: Some((demo.rate_cents > 0).then_some(demo.rate_cents)),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("profile of {}: {e:?}", demo.username))?;
        let (lat, lng, place) = demo.location;
        profile::service::update_location(&app.db, id, lat, lng, Some(Some(place.to_owned())))
            .await
            .map_err(|e| anyhow::anyhow!("location of {}: {e:?}", demo.username))?;
        if demo.admin {
            let mut conn = app.db.conn().await?;
            profile::model::set_admin(&mut conn, id, true).await?;
        }
        created += 1;
    }
    Ok(created)
}

/// Bulk users `{prefix}{i}` (email `{prefix}{i}@load.test`, password `password`), sharing
/// one password hash so thousands are created in seconds. Returns how many were created.
pub async fn load_users(app: &AppState, prefix: &str, count: usize, password: &str) -> anyhow::Result<usize> {
    let hash = app.passwords.hash(password.to_owned()).await?;
    let mut conn = app.db.conn().await?;
    let mut created = 0;
    for chunk_start in (0..count).step_by(500) {
        let chunk_end = (chunk_start + 500).min(count);
        created += conn
            .transaction::<_, AppError, _>(async |conn| {
                let mut made = 0;
                for i in chunk_start..chunk_end {
                    let username = format!("{prefix}{i}");
                    let email = format!("{username}@load.test");
                    match profile::service::create(conn, &email, &username, &format!("Load User {i}")).await {
                        Ok(user) => {
                            account::model::insert_credentials(conn, user.id, &hash).await?;
                            made += 1;
                        }
                        Err(AppError::Conflict(_)) => return Ok(made),
                        Err(e) => return Err(e),
                    }
                }
                Ok(made)
            })
            .await
            .map_err(|e| anyhow::anyhow!("seeding load users: {e:?}"))?;
    }
    Ok(created)
}
