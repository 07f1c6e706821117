//! The deployment record every state-changing command leaves in the history.

use panka_format::Stack;
use panka_state::{ChangeCounts, Deployment, DeploymentResult};

/// A new deployment id: `d-` and 12 hex characters.
pub fn new_id() -> String {
    format!("d-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// A deployment record for a command that changes state, with the git commit and branch of
/// the stack's folder when it is in a repository.
pub fn deployment(
    operation: &str,
    stack: &Stack,
    started: std::time::Instant,
    started_at: &str,
    result: DeploymentResult,
    changes: ChangeCounts,
) -> Deployment {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(&stack.root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let mut vars: Vec<String> = stack
        .variables
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    vars.sort();
    Deployment {
        id: new_id(),
        operation: operation.to_string(),
        who: panka_backend::who(),
        started_at: started_at.to_string(),
        finished_at: panka_backend::now_rfc3339(),
        duration_seconds: started.elapsed().as_secs_f64(),
        git_commit: git(&["rev-parse", "HEAD"]),
        git_branch: git(&["rev-parse", "--abbrev-ref", "HEAD"]),
        variables_hash: panka_state::sha256_hex(vars.join("\n").as_bytes()),
        result,
        changes,
        services: Vec::new(),
        lock_wait_seconds: 0.0,
        rollback_of: None,
    }
}

/// The operations that deploy (as opposed to state edits such as `state rm`).
pub const RUNS: [&str; 4] = ["apply", "destroy", "rollback", "remediate"];

/// Figures over a stretch of deployments, for `panka history --stats`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Deployments counted (apply, destroy, rollback, remediate).
    pub deployments: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub cancelled: usize,
    /// Succeeded over all counted, 0-1; absent when none was counted.
    pub success_rate: Option<f64>,
    /// Median and 95th percentile (nearest rank) duration, in seconds.
    pub median_seconds: Option<f64>,
    pub p95_seconds: Option<f64>,
    /// Deployments that had to wait for a lock another run held.
    pub contended: usize,
    /// Contended over all counted, 0-1.
    pub lock_contention_rate: Option<f64>,
    /// Longest lock wait, in seconds.
    pub max_lock_wait_seconds: Option<f64>,
}

/// The figures of `deployments` (any order; state edits are left out).
pub fn stats<'a>(deployments: impl IntoIterator<Item = &'a Deployment>) -> Stats {
    let runs: Vec<&Deployment> = deployments
        .into_iter()
        .filter(|d| RUNS.contains(&d.operation.as_str()))
        .collect();
    let n = runs.len();
    let count = |r: DeploymentResult| runs.iter().filter(|d| d.result == r).count();
    let mut durations: Vec<f64> = runs.iter().map(|d| d.duration_seconds).collect();
    durations.sort_by(f64::total_cmp);
    let rank = |p: f64| -> Option<f64> {
        if durations.is_empty() {
            return None;
        }
        // Nearest rank: the smallest value with at least p of the values at or below it.
        let k = ((p * durations.len() as f64).ceil() as usize).clamp(1, durations.len());
        Some(durations[k - 1])
    };
    let median = if durations.is_empty() {
        None
    } else if durations.len() % 2 == 1 {
        Some(durations[durations.len() / 2])
    } else {
        let m = durations.len() / 2;
        Some((durations[m - 1] + durations[m]) / 2.0)
    };
    let contended = runs.iter().filter(|d| d.lock_wait_seconds > 0.0).count();
    let rate = |k: usize| (n > 0).then(|| k as f64 / n as f64);
    Stats {
        deployments: n,
        succeeded: count(DeploymentResult::Succeeded),
        failed: count(DeploymentResult::Failed),
        cancelled: count(DeploymentResult::Cancelled),
        success_rate: rate(count(DeploymentResult::Succeeded)),
        median_seconds: median,
        p95_seconds: rank(0.95),
        contended,
        lock_contention_rate: rate(contended),
        max_lock_wait_seconds: runs
            .iter()
            .map(|d| d.lock_wait_seconds)
            .max_by(f64::total_cmp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(operation: &str, result: DeploymentResult, seconds: f64, waited: f64) -> Deployment {
        Deployment {
            id: format!("d-{seconds}"),
            operation: operation.into(),
            who: "ci@host".into(),
            started_at: String::new(),
            finished_at: String::new(),
            duration_seconds: seconds,
            git_commit: None,
            git_branch: None,
            variables_hash: String::new(),
            result,
            changes: ChangeCounts::default(),
            services: Vec::new(),
            lock_wait_seconds: waited,
            rollback_of: None,
        }
    }

    #[test]
    fn stats_count_runs_and_rank_durations() {
        use DeploymentResult::*;
        let mut history: Vec<Deployment> = (1..=20)
            .map(|i| {
                run(
                    "apply",
                    if i % 5 == 0 { Failed } else { Succeeded },
                    f64::from(i),
                    0.0,
                )
            })
            .collect();
        history[3].lock_wait_seconds = 12.0;
        history[7].lock_wait_seconds = 3.0;
        history.push(run("state rm", Succeeded, 0.1, 0.0));
        history.push(run("destroy", Cancelled, 100.0, 0.0));
        let s = stats(&history);
        assert_eq!(s.deployments, 21);
        assert_eq!((s.succeeded, s.failed, s.cancelled), (16, 4, 1));
        assert_eq!(s.success_rate, Some(16.0 / 21.0));
        assert_eq!(s.median_seconds, Some(11.0));
        // Nearest rank: ceil(0.95 × 21) = 20th of the sorted durations.
        assert_eq!(s.p95_seconds, Some(20.0));
        assert_eq!(s.contended, 2);
        assert_eq!(s.lock_contention_rate, Some(2.0 / 21.0));
        assert_eq!(s.max_lock_wait_seconds, Some(12.0));
        let none = stats(&[]);
        assert_eq!(none.success_rate, None);
        assert_eq!(none.p95_seconds, None);
    }
}
