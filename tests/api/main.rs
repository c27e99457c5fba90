//! Integration tests over HTTP against the real server and PostgreSQL. One binary (one link)
//! with a module per area; every test owns its database.

mod accounts;
mod admin;
mod apq;
mod billing;
mod calls;
mod clients;
mod common;
mod cron;
mod database;
mod deposits;
mod disputes;
mod escrow;
mod graphql_http;
mod graphql_ws_client;

mod gigs;
mod github;
mod hardening;
mod hourly;
mod indexes;

mod mail;
mod messaging;
mod nearby;
mod node;
mod observability;
mod orders;
mod outbox;
mod payments;
mod playground;
mod probes;

mod profiles;
mod realtime;
mod reviews;
mod schema;
mod seed;
mod sos;
mod stripe_events;
mod stripe_mock;
mod tasks;
mod trust;

mod ws;
