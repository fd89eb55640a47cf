//! When a restarted workload has rolled out: the rules of `kubectl rollout
//! status` (kubernetes/kubectl `pkg/polymorphichelpers/rollout_status.go`,
//! read, not copied), applied to the apps/v1 object as JSON.

use serde_json::Value as Json;

#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    Done,
    /// Still rolling out: what it waits for.
    Waiting(String),
    /// It will not finish by waiting.
    Failed(String),
}

fn int(v: &Json, path: &[&str]) -> Option<i64> {
    path.iter().try_fold(v, |v, k| v.get(*k)).and_then(Json::as_i64)
}

/// `kind` is `deployment`, `statefulset` or `daemonset`.
pub fn progress(kind: &str, obj: &Json) -> Progress {
    let n = |path: &[&str]| int(obj, path).unwrap_or(0);
    let generation = n(&["metadata", "generation"]);
    let observed = n(&["status", "observedGeneration"]);
    let spec_replicas = int(obj, &["spec", "replicas"]);
    match kind {
        "deployment" => {
            if generation > observed {
                return Progress::Waiting("the new pod template is not observed yet".into());
            }
            let timed_out = obj["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter().any(|c| c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded")
            });
            if timed_out {
                return Progress::Failed("it exceeded its progress deadline".into());
            }
            let updated = n(&["status", "updatedReplicas"]);
            if let Some(want) = spec_replicas.filter(|w| updated < *w) {
                return Progress::Waiting(format!("{updated} of {want} new replicas updated"));
            }
            let replicas = n(&["status", "replicas"]);
            if replicas > updated {
                return Progress::Waiting(format!("{} old replicas pending termination", replicas - updated));
            }
            let available = n(&["status", "availableReplicas"]);
            if available < updated {
                return Progress::Waiting(format!("{available} of {updated} updated replicas available"));
            }
            Progress::Done
        }
        "statefulset" => {
            if obj["spec"]["updateStrategy"]["type"].as_str().is_some_and(|t| t != "RollingUpdate") {
                return Progress::Failed(
                    "its update strategy is not RollingUpdate, so a restart does not roll it".into(),
                );
            }
            if observed == 0 || generation > observed {
                return Progress::Waiting("the new pod template is not observed yet".into());
            }
            let ready = n(&["status", "readyReplicas"]);
            if let Some(want) = spec_replicas.filter(|w| ready < *w) {
                return Progress::Waiting(format!("{} pods not ready", want - ready));
            }
            if let Some(partition) = int(obj, &["spec", "updateStrategy", "rollingUpdate", "partition"]) {
                let updated = n(&["status", "updatedReplicas"]);
                let want = spec_replicas.unwrap_or(0) - partition;
                if updated < want {
                    return Progress::Waiting(format!("{updated} of {want} new pods updated (partitioned)"));
                }
                return Progress::Done;
            }
            let (update, current) = (&obj["status"]["updateRevision"], &obj["status"]["currentRevision"]);
            if update != current {
                return Progress::Waiting(format!("{} pods at the new revision", n(&["status", "updatedReplicas"])));
            }
            Progress::Done
        }
        _ => {
            if obj["spec"]["updateStrategy"]["type"].as_str().is_some_and(|t| t != "RollingUpdate") {
                return Progress::Failed(
                    "its update strategy is not RollingUpdate, so a restart does not roll it".into(),
                );
            }
            if generation > observed {
                return Progress::Waiting("the new pod template is not observed yet".into());
            }
            let desired = n(&["status", "desiredNumberScheduled"]);
            let updated = n(&["status", "updatedNumberScheduled"]);
            if updated < desired {
                return Progress::Waiting(format!("{updated} of {desired} new pods updated"));
            }
            let available = n(&["status", "numberAvailable"]);
            if available < desired {
                return Progress::Waiting(format!("{available} of {desired} updated pods available"));
            }
            Progress::Done
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_rules_follow_kubectl() {
        let d = |gen: i64, obs: i64, spec: i64, replicas: i64, updated: i64, available: i64| {
            json!({ "metadata": { "generation": gen }, "spec": { "replicas": spec },
                    "status": { "observedGeneration": obs, "replicas": replicas, "updatedReplicas": updated, "availableReplicas": available } })
        };
        assert!(
            matches!(progress("deployment", &d(2, 1, 2, 2, 2, 2)), Progress::Waiting(w) if w.contains("not observed"))
        );
        assert_eq!(
            progress("deployment", &d(2, 2, 2, 2, 1, 1)),
            Progress::Waiting("1 of 2 new replicas updated".into())
        );
        assert_eq!(
            progress("deployment", &d(2, 2, 2, 3, 2, 2)),
            Progress::Waiting("1 old replicas pending termination".into())
        );
        assert_eq!(
            progress("deployment", &d(2, 2, 2, 2, 2, 1)),
            Progress::Waiting("1 of 2 updated replicas available".into())
        );
        assert_eq!(progress("deployment", &d(2, 2, 2, 2, 2, 2)), Progress::Done);
        let mut stuck = d(2, 2, 2, 3, 1, 2);
        stuck["status"]["conditions"] = json!([{ "type": "Progressing", "reason": "ProgressDeadlineExceeded" }]);
        assert!(matches!(progress("deployment", &stuck), Progress::Failed(_)));
    }

    #[test]
    fn statefulset_and_daemonset_rules_follow_kubectl() {
        let s = json!({ "metadata": { "generation": 3 }, "spec": { "replicas": 2, "updateStrategy": { "type": "RollingUpdate" } },
                        "status": { "observedGeneration": 3, "readyReplicas": 2, "updatedReplicas": 1, "updateRevision": "b", "currentRevision": "a" } });
        assert!(matches!(progress("statefulset", &s), Progress::Waiting(_)));
        let mut done = s.clone();
        done["status"]["currentRevision"] = json!("b");
        assert_eq!(progress("statefulset", &done), Progress::Done);
        let mut on_delete = s.clone();
        on_delete["spec"]["updateStrategy"]["type"] = json!("OnDelete");
        assert!(matches!(progress("statefulset", &on_delete), Progress::Failed(_)));
        let ds = json!({ "metadata": { "generation": 5 }, "spec": {},
                         "status": { "observedGeneration": 5, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2 } });
        assert_eq!(progress("daemonset", &ds), Progress::Waiting("2 of 3 updated pods available".into()));
    }
}
