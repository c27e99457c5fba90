//! Tasks over GraphQL, one file per kind of type: the [`Task`] object ([`task`]), a task
//! found near a point ([`nearby`]), the [`inputs`] of posting and editing, and the root
//! fields ([`query`], [`mutation`], [`subscription`]).
//!
//! The enums (`TaskStatus`, `TaskMode`, …), `TaskMilestone`, `TaskFilter` and the templates
//! are the very types rows and services use (`model`, `service`, `templates`); nothing here
//! mirrors them.

mod inputs;
mod mutation;
mod nearby;
mod query;
mod subscription;
mod task;

pub use self::{
    inputs::{PostTaskInput, TaskInputObject},
    mutation::TaskMutation,
    nearby::NearbyTask,
    query::TaskQuery,
    subscription::{TaskSubscription, TaskUpdate},
    task::Task,
};
