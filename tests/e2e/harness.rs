//! Runs the real binary the way the Actions runner runs a container action:
//! every input of action.yml present as `INPUT_<NAME>` (hyphens kept, defaults
//! applied), `GITHUB_ACTIONS=true`, and the file-command paths set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_secret-sync");

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every service's base URL points at a closed local port unless a test
/// points it at an emulator: no test can reach a public host.
pub const OFFLINE: [(&str, &str); 13] = [
    ("PULUMI_BACKEND_URL", "http://127.0.0.1:9"),
    ("FLY_API_BASE_URL", "http://127.0.0.1:9"),
    ("FLY_FLAPS_BASE_URL", "http://127.0.0.1:9"),
    ("GITHUB_API_URL", "http://127.0.0.1:9"),
    ("SECRET_SYNC_VERCEL_API_URL", "http://127.0.0.1:9"),
    ("SECRET_SYNC_PROBE_OPENAI_URL", "http://127.0.0.1:9"),
    ("SECRET_SYNC_PROBE_ANTHROPIC_URL", "http://127.0.0.1:9"),
    ("SECRET_SYNC_PROBE_SLACK_URL", "http://127.0.0.1:9"),
    ("SECRET_SYNC_PROBE_GITHUB_URL", "http://127.0.0.1:9"),
    ("SECRET_SYNC_PROBE_STRIPE_URL", "http://127.0.0.1:9"),
    ("SECRET_SYNC_PROBE_FLY_URL", "http://127.0.0.1:9"),
    ("SECRET_SYNC_PROBE_PULUMI_URL", "http://127.0.0.1:9"),
    ("SECRET_SYNC_PROBE_VERCEL_URL", "http://127.0.0.1:9"),
];

/// A fixed time so reports are reproducible.
pub const NOW: &str = "1795434000";

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub summary: String,
    pub outputs: String,
    pub report: String,
}

impl Output {
    /// stdout without the `::add-mask::` lines (which carry values by design
    /// and are consumed by the runner).
    pub fn stdout_unmasked(&self) -> String {
        self.stdout.lines().filter(|l| !l.starts_with("::add-mask::")).map(|l| format!("{l}\n")).collect()
    }

    pub fn mask_lines(&self) -> Vec<&str> {
        self.stdout.lines().filter(|l| l.starts_with("::add-mask::")).collect()
    }

    pub fn report_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.report).expect("report is JSON")
    }

    /// Everything the run showed anyone, for leak checks.
    pub fn everything_visible(&self) -> String {
        format!("{}\n{}\n{}\n{}\n{}", self.stdout_unmasked(), self.stderr, self.summary, self.outputs, self.report)
    }
}

/// The inputs declared in action.yml, with their defaults.
pub fn action_inputs() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    doc["inputs"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let default = v.get("default").and_then(|d| d.as_str()).unwrap_or("").to_string();
            // The runner evaluates `${{ github.token }}`; these tests model a
            // job without a usable token unless a test passes one.
            let default = if default.contains("${{") { String::new() } else { default };
            (k.as_str().unwrap().to_string(), default)
        })
        .collect()
}

/// A workspace directory laid out like `/github/workspace`, with the runner's
/// file-command files beside it.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        for d in ["workspace/.github", "file_commands", "runner_temp"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Workspace { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("workspace")
    }

    /// Puts a manifest at the default path.
    pub fn manifest_from(&self, src: &Path) -> &Self {
        std::fs::copy(src, self.root().join(".github/secret-sync.yml")).unwrap();
        self
    }

    pub fn manifest_text(&self, text: &str) -> &Self {
        std::fs::write(self.root().join(".github/secret-sync.yml"), text).unwrap();
        self
    }

    /// Runs the action with `inputs` over the defaults from action.yml.
    pub fn action(&self, inputs: &[(&str, &str)], env: &[(&str, &str)]) -> Output {
        self.action_bin(BIN, inputs, env)
    }

    /// The same with another build of the binary (the shipped one).
    pub fn action_bin(&self, bin: &str, inputs: &[(&str, &str)], env: &[(&str, &str)]) -> Output {
        let mut all = action_inputs();
        for (k, v) in inputs {
            assert!(all.contains_key(*k), "input `{k}` is not declared in action.yml");
            all.insert(k.to_string(), v.to_string());
        }
        let fc = self.dir.path().join("file_commands");
        let summary = fc.join("step_summary_1");
        let output = fc.join("set_output_1");
        std::fs::write(&summary, "").unwrap();
        std::fs::write(&output, "").unwrap();
        let mut cmd = Command::new(bin);
        cmd.env_clear()
            .current_dir(self.root())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GITHUB_ACTIONS", "true")
            .env("CI", "true")
            .env("GITHUB_WORKSPACE", self.root())
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &output)
            .env("RUNNER_TEMP", self.dir.path().join("runner_temp"))
            .env("GITHUB_REPOSITORY", "ai-cherry/sophia")
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_RUN_ATTEMPT", "1")
            .env("GITHUB_EVENT_NAME", "workflow_dispatch")
            .env("GITHUB_SHA", "f1e2d3c4b5a69788796a5b4c3d2e1f0011223344")
            .env("GITHUB_REF", "refs/heads/main")
            .env("SECRET_SYNC_NOW", NOW)
            // Waits (the Fly roll's) take no real time (src/clock.rs).
            .env("SECRET_SYNC_CLOCK", "virtual")
            .envs(OFFLINE);
        for (k, v) in &all {
            cmd.env(format!("INPUT_{}", k.to_uppercase().replace(' ', "_")), v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        let report_path = match all.get("report-path").map(String::as_str) {
            Some("") | None => self.dir.path().join("runner_temp/secret-sync-report.json"),
            Some(p) => self.root().join(p),
        };
        // Temp paths and process ids vary between runs; snapshots should not.
        let tmp = self.dir.path().display().to_string();
        let norm = |s: String| s.replace(&tmp, "[tmp]");
        let outputs = std::fs::read_to_string(&output).unwrap_or_default();
        let outputs =
            regex::Regex::new(r"ghadelimiter_\d+_").unwrap().replace_all(&outputs, "ghadelimiter_PID_").into_owned();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: norm(String::from_utf8_lossy(&out.stdout).into_owned()),
            stderr: norm(String::from_utf8_lossy(&out.stderr).into_owned()),
            summary: norm(std::fs::read_to_string(&summary).unwrap_or_default()),
            outputs: norm(outputs),
            report: norm(std::fs::read_to_string(report_path).unwrap_or_default()),
        }
    }
}

/// Runs the binary as a local CLI (no Actions variables).
pub fn cli(args: &[&str], cwd: &Path) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SECRET_SYNC_NOW", NOW)
        .env("SECRET_SYNC_CLOCK", "virtual")
        .envs(OFFLINE)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        summary: String::new(),
        outputs: String::new(),
        report: String::new(),
    }
}

/// The snapshot a target kind's test is about: the summary, and the
/// report's `targets[]` entries (not the whole report, so a new report field
/// elsewhere does not churn every kind's snapshots). A macro, so the
/// snapshots keep the calling module's name.
macro_rules! snapshot_targets {
    ($name:expr, $out:expr) => {{
        let (name, out): (&str, &crate::harness::Output) = ($name, $out);
        insta::assert_snapshot!(format!("{name}__summary"), out.summary);
        insta::assert_json_snapshot!(format!("{name}__targets"), out.report_json()["targets"]);
    }};
}
