//! The states of pull requests and CI checks, how GitHub's words map onto them, and the
//! combined state of a commit's checks: pure functions with their tests beside them.

use crate::db::text_enum::pg_enum;

pg_enum! {
    /// Where a pull request stands.
    #[derive(async_graphql::Enum)]
    pub enum PullRequestState {
        /// Open for review.
        Open = "OPEN",
        /// Closed without merging.
        Closed = "CLOSED",
        /// Merged into its base branch.
        Merged = "MERGED",
    }
}

impl PullRequestState {
    /// GitHub's `state` (`open`/`closed`) with its `merged` flag.
    pub fn from_github(state: &str, merged: bool) -> Self {
        match (state, merged) {
            (_, true) => Self::Merged,
            ("closed", false) => Self::Closed,
            _ => Self::Open,
        }
    }
}

pg_enum! {
    /// Where one CI check of a commit stands: queued, running, or how it finished (GitHub's
    /// check conclusions, and ERROR for a commit status that errored).
    #[derive(async_graphql::Enum)]
    #[graphql(name = "CheckStatus")]
    pub enum CheckStatus {
        /// Waiting to run (also GitHub's `requested`, `waiting` and `pending`).
        Queued = "QUEUED",
        /// Running (a commit status `pending` counts as running).
        InProgress = "IN_PROGRESS",
        /// Finished and passed.
        Success = "SUCCESS",
        /// Finished and failed.
        Failure = "FAILURE",
        /// Finished without a verdict; counts as passing.
        Neutral = "NEUTRAL",
        /// Cancelled before it finished; counts as failing.
        Cancelled = "CANCELLED",
        /// Skipped; counts as passing.
        Skipped = "SKIPPED",
        /// Ran out of time; counts as failing.
        TimedOut = "TIMED_OUT",
        /// Needs someone to act on it; counts as failing.
        ActionRequired = "ACTION_REQUIRED",
        /// Left incomplete too long, marked stale by GitHub; counts as failing.
        Stale = "STALE",
        /// Could not start; counts as failing.
        StartupFailure = "STARTUP_FAILURE",
        /// A commit status that errored; counts as failing.
        Error = "ERROR",
    }
}

impl CheckStatus {
    /// A check run's or suite's `status` and `conclusion`.
    pub fn from_check(status: &str, conclusion: Option<&str>) -> Self {
        match (status, conclusion) {
            ("completed", conclusion) => match conclusion.unwrap_or("neutral") {
                "success" => Self::Success,
                "failure" => Self::Failure,
                "cancelled" => Self::Cancelled,
                "skipped" => Self::Skipped,
                "timed_out" => Self::TimedOut,
                "action_required" => Self::ActionRequired,
                "stale" => Self::Stale,
                "startup_failure" => Self::StartupFailure,
                _ => Self::Neutral,
            },
            ("in_progress", _) => Self::InProgress,
            _ => Self::Queued,
        }
    }

    /// A commit status's `state` (`pending`, `success`, `failure`, `error`).
    pub fn from_commit_status(state: &str) -> Self {
        match state {
            "success" => Self::Success,
            "failure" => Self::Failure,
            "error" => Self::Error,
            _ => Self::InProgress,
        }
    }

    /// How far along: 0 queued, 1 running, 2 finished. A check never moves back.
    pub fn progress(self) -> i16 {
        match self {
            Self::Queued => 0,
            Self::InProgress => 1,
            _ => 2,
        }
    }

    /// Whether it finished in a way that lets the pull request through (as GitHub's branch
    /// protection counts it: success, neutral or skipped).
    pub fn is_passing(self) -> bool {
        matches!(self, Self::Success | Self::Neutral | Self::Skipped)
    }
}

pg_enum! {
    /// Which GitHub object reported a check.
    #[derive(async_graphql::Enum)]
    #[graphql(name = "CheckSource")]
    pub enum CheckSource {
        /// A check run (`check_run`): the latest run per name.
        CheckRun = "CHECK_RUN",
        /// A check suite (`check_suite`): the latest suite per app.
        CheckSuite = "CHECK_SUITE",
        /// A commit status (`status`): the latest per context.
        Status = "STATUS",
    }
}

pg_enum! {
    /// The combined state of the checks of a pull request's head commit.
    #[derive(async_graphql::Enum)]
    pub enum ChecksState {
        /// No check reported yet.
        None = "NONE",
        /// Some check is queued or running, and none failed.
        Pending = "PENDING",
        /// Every check finished and passed (success, neutral or skipped).
        Passing = "PASSING",
        /// Some check finished and failed.
        Failing = "FAILING",
    }
}

impl ChecksState {
    /// The combined state of `checks`: failing as soon as one failed, pending while one runs,
    /// passing when all passed.
    pub fn combine(checks: &[CheckStatus]) -> Self {
        if checks.is_empty() {
            Self::None
        } else if checks.iter().any(|c| c.progress() == 2 && !c.is_passing()) {
            Self::Failing
        } else if checks.iter().any(|c| c.progress() < 2) {
            Self::Pending
        } else {
            Self::Passing
        }
    }

    /// Whether moving from `self` to `next` is worth telling the parties: the checks turned
    /// passing or failing.
    pub fn turned(self, next: Self) -> bool {
        self != next && matches!(next, Self::Passing | Self::Failing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_words_map_onto_one_status() {
        assert_eq!(CheckStatus::from_check("queued", None), CheckStatus::Queued);
        assert_eq!(CheckStatus::from_check("requested", None), CheckStatus::Queued);
        assert_eq!(CheckStatus::from_check("in_progress", None), CheckStatus::InProgress);
        assert_eq!(
            CheckStatus::from_check("completed", Some("success")),
            CheckStatus::Success
        );
        assert_eq!(
            CheckStatus::from_check("completed", Some("timed_out")),
            CheckStatus::TimedOut
        );
        assert_eq!(CheckStatus::from_check("completed", None), CheckStatus::Neutral);
        assert_eq!(CheckStatus::from_commit_status("pending"), CheckStatus::InProgress);
        assert_eq!(CheckStatus::from_commit_status("error"), CheckStatus::Error);
        assert_eq!(PullRequestState::from_github("closed", true), PullRequestState::Merged);
        assert_eq!(PullRequestState::from_github("closed", false), PullRequestState::Closed);
        assert_eq!(PullRequestState::from_github("open", false), PullRequestState::Open);
    }

    #[test]
    fn progress_only_moves_forward() {
        assert!(CheckStatus::Queued.progress() < CheckStatus::InProgress.progress());
        for finished in CheckStatus::ALL.iter().skip(2) {
            assert_eq!(finished.progress(), 2, "{finished}");
        }
    }

    #[test]
    fn one_failure_fails_the_commit_and_a_running_check_keeps_it_pending() {
        use CheckStatus::*;
        assert_eq!(ChecksState::combine(&[]), ChecksState::None);
        assert_eq!(ChecksState::combine(&[Success, Skipped, Neutral]), ChecksState::Passing);
        assert_eq!(ChecksState::combine(&[Success, InProgress]), ChecksState::Pending);
        assert_eq!(ChecksState::combine(&[InProgress, Failure]), ChecksState::Failing);
        assert_eq!(ChecksState::combine(&[Cancelled]), ChecksState::Failing);
        assert!(ChecksState::Pending.turned(ChecksState::Failing));
        assert!(!ChecksState::Failing.turned(ChecksState::Failing));
        assert!(!ChecksState::Passing.turned(ChecksState::Pending));
    }
}
