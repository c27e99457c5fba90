//! A task found near a point.

use std::sync::Arc;

use async_graphql::Object;

use super::Task;
use crate::task::model::TaskRow;

/// A task with its distance from the point a search or subscription asked about.
pub struct NearbyTask {
    pub(super) task: Arc<TaskRow>,
    pub(super) distance_m: f64,
}

/// A task near the point asked about, with its distance.
#[Object]
impl NearbyTask {
    /// Metres from the point asked about to the task's public location (great-circle).
    async fn distance_meters(&self) -> f64 {
        self.distance_m
    }
    /// The task; its `location` is the public point unless you are one of its parties.
    async fn task(&self) -> Task {
        Task(self.task.clone())
    }
}
