//! The scale benchmark of issues 14, 15, 25 and 26: a generated manifest of
//! S secrets × A Fly apps (2 Machines each unless `machines=N`) × E Pulumi ESC environments, plus
//! three GitHub targets and, with `vercel=N`, N Vercel projects of one team
//! (production and preview; each gets one secret in ten, and redeploys
//! production after a change), synced by the release `secret-sync` binary (run as
//! the Actions runner runs it: `INPUT_*`, `GITHUB_ACTIONS=true`) against the
//! emulators with a latency on every request. Three runs: first, unchanged,
//! one key changed. Each prints wall time, the child's peak memory (GNU
//! `time`), and the requests by kind against the limit — one read and at most
//! one write per target, plus machine calls and Vercel's redeploys — computed
//! here from the routing this program generated, never from the product's
//! report.
//!
//!   cargo run --release -p secret-sync-emulators --example scale -- \
//!     BIN DIR secrets=1000 apps=100 esc=5 latency-ms=50 [shards=8] [vercel=20] [state=1]
//!
//! A redeploy is read every 5 s of the run's clock, which is the real one in
//! a release build (`SECRET_SYNC_TEST_CLOCK` is for debug builds only): the
//! emulator queues and builds in no time (`queue_ms`, `build_ms` 0), so the
//! first read, 5 s after the creation, finds the deployment ready — each
//! redeploy costs one real 5 s poll, which the wall times include.
//!
//! `shards=N` runs each of the three runs as N matrix jobs at once (N − 1
//! `targets` patterns splitting the Fly apps, one `esc:*,github:*[,vercel:*]`) and then
//! `merge-reports`. scripts/bench.sh (`ONLY=scale`) runs the sizes the issues
//! ask for; docs/benchmarks.md holds the figures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use secret_sync_emulators::Emulator;

const ESC_TOKEN: &str = "pul-scale-bench-token-0000";
const FLY_TOKEN: &str = "fm2_scaleBenchMacaroon000000";
const GH_TOKEN: &str = "ghp_scaleBenchToken0000000000000000000";
const VERCEL_TOKEN: &str = "vercel-scale-bench-token-00000000";
/// The team owning every Vercel project (addressed by id: `?teamId=`).
const VERCEL_TEAM: &str = "team_scalebench0000000000";
const VERCEL_TEAM_SLUG: &str = "acme";
/// Each Vercel project gets the secrets `i` with `i % VERCEL_SHARE == v % VERCEL_SHARE`:
/// one in ten (100 of 1,000 secrets, about 6.6 KB, far under the 64 KB a
/// deployment's variables may total).
const VERCEL_SHARE: usize = 10;
/// Vercel projects handled at once (the product's default and only setting,
/// src/targets/inputs.rs `DEFAULT_CONCURRENCY`): for the model line only.
const VERCEL_CONCURRENCY: usize = 4;
/// Between reads of a deployment being built (src/targets/vercel/mod.rs `POLL`).
const VERCEL_POLL: Duration = Duration::from_secs(5);
/// What a benchmark project's variables may total: a quarter of Vercel's 64 KB.
const VERCEL_BUDGET: usize = 16 * 1024;
const ORG: &str = "acme";
/// The repository running the job: its own secrets are read with the org's.
const RUNNER_REPO: &str = "acme/ops";
/// Each secret goes to one Fly app in this many (about 20 %), and to every
/// ESC environment (issue 25: the ESC editor's cost grows with the entries
/// of one environment, so the benchmark routes them all there).
const FLY_SHARE: usize = 5;
/// Every tenth secret goes to one of the GitHub targets.
const GH_EVERY: usize = 10;
/// GitHub targets: (name, repository, environment).
const GH_TARGETS: [(&str, &str, Option<&str>); 3] =
    [("gh-web", "acme/web", None), ("gh-infra", "acme/infra", None), ("gh-web-prod", "acme/web", Some("production"))];
/// GitHub's page size for secrets lists (src/github/mod.rs `PER_PAGE`).
const GH_PAGE: usize = 100;
/// Runs are stamped at `SECRET_SYNC_NOW`; GitHub stamps writes a few days
/// earlier and the org's secrets earlier still, so only a bumped source
/// reads as newer than the target's copy.
const NOW: &str = "1795434000"; // 2026-11-23T11:40:00Z
const GH_WRITTEN_AT: &str = "2026-11-20T00:00:00Z";
const SOURCE_AT: &str = "2026-11-01T00:00:00Z";
const BUMPED_AT: &str = "2026-11-23T11:00:00Z";

struct Spec {
    secrets: usize,
    apps: usize,
    esc: usize,
    latency: Duration,
    shards: usize,
    concurrency: usize,
    /// Started Machines per Fly app (each also has a destroyed one).
    machines: usize,
    /// `state=1`: runs keep the state record (a state key, the emulated
    /// results service and GitHub's artifact routes), so an unchanged run
    /// proves Fly and GitHub keys unchanged without writing.
    state: bool,
    /// Vercel projects (targets `v000`…, projects `p000`…, one team).
    vercel: usize,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: scale BIN DIR secrets=N apps=N esc=N latency-ms=N [shards=N] [fly-concurrency=N] [machines=N] [state=1] [vercel=N]";
    // Absolute: each job runs in its own workspace.
    let bin = std::fs::canonicalize(args.next().expect(usage)).expect("BIN exists");
    let dir = std::path::absolute(args.next().expect(usage)).expect("DIR is a path");
    let mut spec = Spec {
        secrets: 60,
        apps: 8,
        esc: 1,
        latency: Duration::ZERO,
        shards: 1,
        concurrency: 4,
        machines: 2,
        state: false,
        vercel: 0,
    };
    for a in args {
        let (k, v) = a.split_once('=').expect(usage);
        let n: usize = v.parse().expect(usage);
        match k {
            "secrets" => spec.secrets = n,
            "apps" => spec.apps = n,
            "esc" => spec.esc = n,
            "latency-ms" => spec.latency = Duration::from_millis(n as u64),
            "shards" => spec.shards = n,
            "fly-concurrency" => spec.concurrency = n,
            "machines" => spec.machines = n,
            "state" => spec.state = n != 0,
            "vercel" => spec.vercel = n,
            _ => panic!("{usage}"),
        }
    }
    assert!(spec.shards != 2, "shards=2 would leave no Fly shard split: use 1 or 3+");
    for v in 0..spec.vercel {
        let total: usize = (0..spec.secrets)
            .filter(|&i| routes(&spec, i).vercel.contains(&v))
            .map(|i| secret_name(i).len() + value(i, 2).len())
            .sum();
        assert!(total <= VERCEL_BUDGET, "Vercel project {v} would get {total} bytes: keep it well under 64 KB");
    }
    let _ = std::fs::remove_dir_all(&dir);
    let bench = Bench::new(&bin, &dir, spec);
    let mut failed = false;
    for run in [Run::First, Run::Unchanged, Run::OneKey] {
        failed |= !bench.run(run);
    }
    let _ = std::fs::remove_dir_all(&dir);
    if failed {
        std::process::exit(1);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Run {
    First,
    Unchanged,
    OneKey,
}

impl Run {
    fn name(self) -> &'static str {
        match self {
            Run::First => "first",
            Run::Unchanged => "unchanged",
            Run::OneKey => "one-key",
        }
    }
}

/// Where one secret goes: every ESC environment, about a fifth of the Fly
/// apps (consecutive, starting at a different app for each secret), one
/// GitHub target for every tenth, and the Vercel projects of its tenth.
struct Routes {
    fly: Vec<usize>,
    gh: Option<usize>,
    vercel: Vec<usize>,
}

fn fly_fanout(spec: &Spec) -> usize {
    spec.apps.div_ceil(FLY_SHARE)
}

fn routes(spec: &Spec, i: usize) -> Routes {
    let fanout = fly_fanout(spec);
    Routes {
        fly: (0..fanout).map(|j| (i * 3 + j) % spec.apps).collect(),
        gh: (i % GH_EVERY == 0).then_some((i / GH_EVERY) % GH_TARGETS.len()),
        vercel: (i % VERCEL_SHARE..spec.vercel).step_by(VERCEL_SHARE).collect(),
    }
}

fn secret_name(i: usize) -> String {
    format!("SECRET_{i:05}")
}

fn app_name(spec: &Spec, a: usize) -> String {
    // The shard letter leads the name, so a shard's pattern is `fly:<letter>*`.
    let letter = (b'a' + (a * fly_shards(spec) / spec.apps) as u8) as char;
    format!("{letter}-app-{a:04}")
}

fn fly_shards(spec: &Spec) -> usize {
    if spec.shards > 1 {
        spec.shards - 1
    } else {
        1
    }
}

fn vercel_target(v: usize) -> String {
    format!("v{v:03}")
}

fn vercel_project(v: usize) -> String {
    format!("p{v:03}")
}

fn vercel_project_id(v: usize) -> String {
    format!("prj_scalebench{v:013}")
}

fn esc_env(e: usize) -> String {
    format!("{ORG}/platform/env-{e:02}")
}

fn value(i: usize, generation: u32) -> String {
    format!("value-{generation}-{i:05}-abcdefghijklmnopqrstuvwxyz0123456789")
}

fn manifest(spec: &Spec) -> String {
    let mut m = String::from("version: 1\ndefaults:\n  fly_deploy: restart\ntargets:\n  esc:\n");
    for e in 0..spec.esc {
        m += &format!("    env-{e:02}: {{ path: {} }}\n", esc_env(e));
    }
    m += "  fly:\n";
    for a in 0..spec.apps {
        m += &format!("    {0}: {{ app: {0} }}\n", app_name(spec, a));
    }
    m += "  github:\n";
    for (name, repo, env) in GH_TARGETS {
        match env {
            Some(e) => m += &format!("    {name}: {{ repo: {repo}, env: {e} }}\n"),
            None => m += &format!("    {name}: {{ repo: {repo} }}\n"),
        }
    }
    if spec.vercel > 0 {
        m += "  vercel:\n";
        for v in 0..spec.vercel {
            m += &format!(
                "    {}: {{ project: {}, team: {VERCEL_TEAM}, targets: [production, preview] }}\n",
                vercel_target(v),
                vercel_project(v)
            );
        }
    }
    m += "secrets:\n";
    let esc_names: Vec<String> = (0..spec.esc).map(|e| format!("env-{e:02}")).collect();
    for i in 0..spec.secrets {
        let r = routes(spec, i);
        let fly: Vec<String> = r.fly.iter().map(|&a| app_name(spec, a)).collect();
        m += &format!(
            "  {}: {{ required: false, to: [ {{ esc: [{}], path: svc{:03}.key{i:05} }}, {{ fly: [{}] }}",
            secret_name(i),
            esc_names.join(", "),
            i % 97,
            fly.join(", ")
        );
        if let Some(g) = r.gh {
            m += &format!(", {{ github: {} }}", GH_TARGETS[g].0);
        }
        if !r.vercel.is_empty() {
            let v: Vec<String> = r.vercel.iter().map(|&v| vercel_target(v)).collect();
            m += &format!(", {{ vercel: [{}] }}", v.join(", "));
        }
        m += " ] }\n";
    }
    m
}

fn secrets_json(spec: &Spec, changed: Option<usize>) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        (0..spec.secrets).map(|i| (secret_name(i), value(i, if changed == Some(i) { 2 } else { 1 }).into())).collect();
    serde_json::Value::Object(map).to_string()
}

/// Requests one target may make in one run: kind → count.
type Counts = BTreeMap<&'static str, usize>;

struct Bench<'a> {
    bin: &'a Path,
    dir: &'a Path,
    spec: Spec,
    emu: Emulator,
}

/// What one child process did.
struct Child {
    code: i32,
    wall: Duration,
    rss_kib: Option<u64>,
    /// User + system CPU time of the program (GNU `time`).
    cpu: Option<f64>,
    stdout: String,
}

impl<'a> Bench<'a> {
    fn new(bin: &'a Path, dir: &'a Path, spec: Spec) -> Bench<'a> {
        let emu = Emulator::start();
        {
            let mut st = emu.state();
            st.esc.tokens.insert(ESC_TOKEN.into());
            for e in 0..spec.esc {
                st.esc.seed(&esc_env(e), "values: {}\n");
            }
            st.fly.tokens.insert(FLY_TOKEN.into());
            for a in 0..spec.apps {
                st.fly.add_app(&app_name(&spec, a), spec.machines);
            }
            st.github.tokens.insert(GH_TOKEN.into());
            st.github.now = GH_WRITTEN_AT.into();
            st.github.add_repo(RUNNER_REPO);
            // The artifacts (state records) belong to the repository running the jobs.
            st.results.repository = Some(RUNNER_REPO.into());
            for (_, repo, env) in GH_TARGETS {
                match env {
                    Some(e) => st.github.add_env(repo, e),
                    None => st.github.add_repo(repo),
                }
            }
            for i in 0..spec.secrets {
                st.github.org_secret(ORG, &secret_name(i), SOURCE_AT, "all");
            }
            for v in 0..spec.vercel {
                st.vercel.seed_project(
                    VERCEL_TOKEN,
                    VERCEL_TEAM,
                    VERCEL_TEAM_SLUG,
                    &vercel_project_id(v),
                    &vercel_project(v),
                );
            }
            // Built at once: the first read of a redeploy (5 s of the run's
            // real clock after its creation) finds it ready and serving.
            st.vercel.queue_ms = 0;
            st.vercel.build_ms = 0;
        }
        // Seeding is not measured; the latency applies from the first run.
        emu.set_latency(spec.latency);
        Bench { bin, dir, spec, emu }
    }

    /// One run (one job, or the shards and the merge); false if anything
    /// failed or a request count is off its limit.
    fn run(&self, run: Run) -> bool {
        let changed = (run == Run::OneKey).then_some(0);
        if changed.is_some() {
            // The source's org secret changed after the targets' copies.
            self.emu.state().github.org_secret(ORG, &secret_name(0), BUMPED_AT, "all");
        }
        let secrets = secrets_json(&self.spec, changed);
        if self.spec.state {
            self.emu.state().results.runtime_token = Some(runtime_token(run));
        }
        let deployments_before = self.emu.state().vercel.deployments.len();
        self.emu.clear_log();
        let shards = self.shard_patterns();
        let t0 = Instant::now();
        let children: Vec<std::process::Child> =
            shards.iter().enumerate().map(|(k, pattern)| self.spawn(run, k, pattern.as_deref(), &secrets)).collect();
        let done: Vec<Child> = children.into_iter().enumerate().map(|(k, c)| self.finish(run, k, c, t0)).collect();
        let wall = t0.elapsed();
        let mut ok = true;
        for (k, c) in done.iter().enumerate() {
            if c.code != 0 {
                ok = false;
                println!("{}: job {k} failed with exit code {}:\n{}", run.name(), c.code, tail(&c.stdout));
            }
        }
        let rss = done.iter().filter_map(|c| c.rss_kib).max();
        let slowest = done.iter().map(|c| c.wall).max().unwrap_or_default();
        let label = self.label();
        let mem =
            rss.map_or("n/a (no /usr/bin/time)".to_string(), |k| format!("{k} KiB ({:.1} MiB)", k as f64 / 1024.0));
        // The program's CPU time (user + system), all jobs together: less
        // affected by a busy machine than wall time.
        let cpu = done.iter().map(|c| c.cpu).sum::<Option<f64>>().map_or("n/a".to_string(), |c| format!("{c:.2} s"));
        if self.spec.shards > 1 {
            let merge = self.merge(run);
            ok &= merge.0;
            println!(
                "{label}, {}: {} jobs at once: wall {} (slowest job {}), then merge-reports {}; peak memory of a job {mem}; program CPU {cpu} (all jobs)",
                run.name(),
                shards.len(),
                secs(wall),
                secs(slowest),
                secs(merge.1)
            );
        } else {
            println!("{label}, {}: wall {}, peak memory {mem}, program CPU {cpu}", run.name(), secs(wall));
        }
        if run == Run::Unchanged && !self.spec.latency.is_zero() {
            let waves = self.spec.apps.div_ceil(fly_shards(&self.spec)).div_ceil(self.spec.concurrency);
            let model = self.spec.latency * (waves as u32 + 2);
            let ratio = slowest.as_secs_f64() / model.as_secs_f64();
            // Without a record of what was written, each app costs two
            // sequential round trips (its list, then the write that proves
            // its keys unchanged), so the waves are twice as long.
            let per_app = self.spec.latency * (2 * waves as u32 + 2);
            println!(
                "{label}, unchanged: model RTT × (⌈apps per job ÷ concurrency⌉ + 2) = {} ms × ({waves} + 2) = {}; slowest job {} = {ratio:.2}× the model; with the 2 round trips an app takes, RTT × (2 × {waves} + 2) = {} ({:.2}×)",
                self.spec.latency.as_millis(),
                secs(model),
                secs(slowest),
                secs(per_app),
                slowest.as_secs_f64() / per_app.as_secs_f64()
            );
        }
        if self.spec.vercel > 0 {
            self.vercel_model(run, changed, slowest);
        }
        ok & self.check_requests(run, changed, deployments_before)
    }

    /// Vercel's floor: each redeploying project waits one 5 s poll, four
    /// projects at a time.
    fn vercel_model(&self, run: Run, changed: Option<usize>, slowest: Duration) {
        let redeploys = self.vercel_written(run, changed).iter().filter(|w| w.redeploy).count();
        let waves = redeploys.div_ceil(VERCEL_CONCURRENCY);
        let floor = VERCEL_POLL * waves as u32;
        println!(
            "{}, {}: Vercel redeploys {redeploys} of {} projects: floor ⌈{redeploys} ÷ {VERCEL_CONCURRENCY}⌉ × 5 s poll = {}; slowest job {}",
            self.label(),
            run.name(),
            self.spec.vercel,
            secs(floor),
            secs(slowest)
        );
    }

    /// What each Vercel project gets this run: whether it is written (one
    /// upsert) and redeployed.
    fn vercel_written(&self, run: Run, changed: Option<usize>) -> Vec<VercelRun> {
        let s = &self.spec;
        (0..s.vercel)
            .map(|v| {
                let keys: Vec<usize> = (0..s.secrets).filter(|&i| routes(s, i).vercel.contains(&v)).collect();
                // Keys new or proved changed: all of them the first time; the
                // changed one later, when the record proves it changed.
                let changes = match run {
                    Run::First => keys.len(),
                    Run::Unchanged => 0,
                    Run::OneKey => keys.iter().filter(|&&i| s.state && changed == Some(i)).count(),
                };
                // Without a record a present key is unverified: written every
                // run, never redeployed for (docs/targets/vercel.md, "No record").
                let upsert = changes > 0 || (!s.state && !keys.is_empty());
                VercelRun { upsert, redeploy: changes > 0 }
            })
            .collect()
    }

    fn label(&self) -> String {
        let s = &self.spec;
        let jobs = if s.shards > 1 { format!(", {} shards", s.shards) } else { String::new() };
        let vercel = if s.vercel > 0 { format!(", {} Vercel", s.vercel) } else { String::new() };
        let state = if s.state { ", state record" } else { "" };
        format!(
            "scale {}×{}×{} (+{} GitHub{vercel}, {} Machines an app), {} ms, fly-concurrency {}{jobs}{state}",
            s.secrets,
            s.apps,
            s.esc,
            GH_TARGETS.len(),
            s.machines,
            s.latency.as_millis(),
            s.concurrency
        )
    }

    /// `targets` of each job: `None` for a single job.
    fn shard_patterns(&self) -> Vec<Option<String>> {
        if self.spec.shards <= 1 {
            return vec![None];
        }
        let vercel = if self.spec.vercel > 0 { ",vercel:*" } else { "" };
        let mut v = vec![Some(format!("esc:*,github:*{vercel}"))];
        for k in 0..fly_shards(&self.spec) {
            v.push(Some(format!("fly:{}*", (b'a' + k as u8) as char)));
        }
        v
    }

    fn job_dir(&self, run: Run, k: usize) -> PathBuf {
        self.dir.join(run.name()).join(format!("job-{k}"))
    }

    fn spawn(&self, run: Run, k: usize, targets: Option<&str>, secrets: &str) -> std::process::Child {
        let root = self.job_dir(run, k);
        let ws = root.join("workspace");
        let report = format!("reports/shard-{k}/secret-sync-report.json");
        let report_dir = ws.join(format!("reports/shard-{k}"));
        for d in [ws.join(".github"), report_dir, root.join("runner_temp"), root.join("file_commands")] {
            std::fs::create_dir_all(d).expect("job directories");
        }
        std::fs::write(ws.join(".github/secret-sync.yml"), manifest(&self.spec)).expect("manifest written");
        let url = self.emu.url.as_str();
        let concurrency = self.spec.concurrency.to_string();
        let mut inputs = vec![
            ("mode", "sync"),
            ("secrets", secrets),
            ("report-path", report.as_str()),
            ("esc-api-url", url),
            ("esc-token", ESC_TOKEN),
            ("fly-token", FLY_TOKEN),
            ("github-token", GH_TOKEN),
            ("vercel-token", VERCEL_TOKEN),
            ("fly-concurrency", concurrency.as_str()),
            ("upload-artifact", "false"),
        ];
        if let Some(t) = targets {
            inputs.push(("targets", t));
        }
        let runtime = runtime_token(run);
        if self.spec.state {
            inputs.push(("state-key", STATE_KEY));
            inputs.push(("state-token", GH_TOKEN));
        } else {
            inputs.push(("state", "none"));
        }
        let mut cmd = if Path::new("/usr/bin/time").exists() {
            let mut c = Command::new("/usr/bin/time");
            c.arg("-f").arg("%M %U %S").arg("-o").arg(root.join("rss")).arg(self.bin);
            c
        } else {
            Command::new(self.bin)
        };
        cmd.env_clear()
            .current_dir(&ws)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GITHUB_ACTIONS", "true")
            .env("CI", "true")
            .env("GITHUB_WORKSPACE", &ws)
            .env("GITHUB_STEP_SUMMARY", root.join("file_commands/summary"))
            .env("GITHUB_OUTPUT", root.join("file_commands/output"))
            .env("RUNNER_TEMP", root.join("runner_temp"))
            .env("GITHUB_REPOSITORY", RUNNER_REPO)
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_RUN_ATTEMPT", "1")
            .env("SECRET_SYNC_NOW", NOW)
            .env("GITHUB_API_URL", url)
            .env("FLY_API_BASE_URL", url)
            .env("FLY_FLAPS_BASE_URL", url)
            .env("PULUMI_BACKEND_URL", url)
            .env("SECRET_SYNC_VERCEL_API_URL", url);
        if self.spec.state {
            cmd.env("ACTIONS_RUNTIME_TOKEN", &runtime).env("ACTIONS_RESULTS_URL", format!("{url}/"));
        }
        for (k, v) in inputs {
            cmd.env(format!("INPUT_{}", k.to_uppercase()), v);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("secret-sync starts")
    }

    fn finish(&self, run: Run, k: usize, child: std::process::Child, t0: Instant) -> Child {
        let out = child.wait_with_output().expect("secret-sync runs");
        let wall = t0.elapsed();
        let timed = std::fs::read_to_string(self.job_dir(run, k).join("rss")).unwrap_or_default();
        let fields: Vec<&str> = timed.lines().last().unwrap_or_default().split_whitespace().collect();
        let rss_kib = fields.first().and_then(|f| f.parse().ok());
        let cpu = match (
            fields.get(1).and_then(|f| f.parse::<f64>().ok()),
            fields.get(2).and_then(|f| f.parse::<f64>().ok()),
        ) {
            (Some(user), Some(sys)) => Some(user + sys),
            _ => None,
        };
        let stdout = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        Child { code: out.status.code().unwrap_or(-1), wall, rss_kib, cpu, stdout }
    }

    /// `merge-reports` over the shards' reports, gathered as
    /// `actions/download-artifact` would lay them out; (ok, wall time).
    fn merge(&self, run: Run) -> (bool, Duration) {
        let root = self.dir.join(run.name()).join("merge");
        let reports = root.join("workspace/reports");
        std::fs::create_dir_all(&reports).expect("merge directory");
        let patterns: Vec<String> = self.shard_patterns().into_iter().flatten().collect();
        for k in 0..patterns.len() {
            let from = self.job_dir(run, k).join(format!("workspace/reports/shard-{k}/secret-sync-report.json"));
            let to = reports.join(format!("shard-{k}"));
            std::fs::create_dir_all(&to).expect("artifact directory");
            let _ = std::fs::copy(from, to.join("secret-sync-report.json"));
        }
        let t0 = Instant::now();
        let out = Command::new(self.bin)
            .env_clear()
            .current_dir(root.join("workspace"))
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .args(["merge-reports", "reports", "--report-path", "merged.json"])
            .args(patterns.iter().flat_map(|p| ["--shard", p.as_str()]))
            .stdin(Stdio::null())
            .output()
            .expect("merge-reports runs");
        let wall = t0.elapsed();
        let merged: serde_json::Value = std::fs::read_to_string(root.join("workspace/merged.json"))
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        let in_scope = merged["counts"]["targets_in_scope"].as_u64().unwrap_or(0) as usize;
        let want = self.spec.esc + self.spec.apps + GH_TARGETS.len() + self.spec.vercel;
        let ok = out.status.success() && in_scope == want && merged["counts"]["targets_failed"] == 0;
        if !ok {
            println!(
                "{}: merge-reports: exit {:?}, {in_scope} of {want} targets in scope, {} failed:\n{}",
                run.name(),
                out.status.code(),
                merged["counts"]["targets_failed"],
                tail(&String::from_utf8_lossy(&out.stdout))
            );
        }
        (ok, wall)
    }

    /// The limit of each target in this run, from the routing generated here.
    fn limits(&self, run: Run, changed: Option<usize>) -> BTreeMap<String, Counts> {
        let s = &self.spec;
        // Keys each target gets written this run: every routed key on the
        // first run, the changed secret's routes on the one-key run.
        let mut esc_keys = vec![0usize; s.esc];
        let mut fly_keys = vec![0usize; s.apps];
        let mut gh_keys = [0usize; GH_TARGETS.len()];
        for i in 0..s.secrets {
            if run == Run::Unchanged || (run == Run::OneKey && changed != Some(i)) {
                continue;
            }
            let r = routes(s, i);
            for n in esc_keys.iter_mut() {
                *n += 1;
            }
            for a in r.fly {
                fly_keys[a] += 1;
            }
            if let Some(g) = r.gh {
                gh_keys[g] += 1;
            }
        }
        let mut lim = BTreeMap::new();
        for (e, &n) in esc_keys.iter().enumerate() {
            // A change is made on the stored definition (ciphertexts kept), read
            // once more with its ETag before the PATCH (src/targets/esc/mod.rs).
            let mut c = Counts::from([("esc read (decrypt)", 1)]);
            if n > 0 {
                c.insert("esc write: stored-definition read", 1);
                c.insert("esc write: PATCH", 1);
            }
            lim.insert(format!("esc {}", esc_env(e)), c);
        }
        for (a, &n) in fly_keys.iter().enumerate() {
            // Without a record Fly's digests prove nothing: every app gets its
            // one write. With one, an app whose keys the record proves
            // unchanged is only read. A changed key rolls the machines (list,
            // then lease, update, wait, release and the smoke check's one read
            // per machine: the emulator's Machines have been up long; they
            // configure no health check).
            let mut c = Counts::from([("fly secrets list", 1)]);
            if n > 0 || !s.state {
                c.insert("fly secrets write", 1);
            }
            if n > 0 {
                c.insert("fly machine calls", 1 + 5 * s.machines);
            }
            lim.insert(format!("fly {}", app_name(s, a)), c);
        }
        for (g, &n) in gh_keys.iter().enumerate() {
            // GitHub has no batch write: one PUT per key, after one public-key
            // read; with the record, one more list reads the new `updated_at`.
            let mut c = Counts::from([("github list", 1 + usize::from(n > 0 && s.state))]);
            if n > 0 {
                c.insert("github public key", 1);
                c.insert("github put", n);
            }
            lim.insert(format!("github {}", gh_scope(g)), c);
        }
        let vercel = self.vercel_written(run, changed);
        for (v, w) in vercel.iter().enumerate() {
            // One list; one upsert for all its keys; a redeploy reads the
            // project (its production deployment), creates the new one and
            // reads it once: built at once, it is ready 5 s later.
            let mut c = Counts::from([("vercel list", 1)]);
            if w.upsert {
                c.insert("vercel upsert", 1);
            }
            if w.redeploy {
                c.insert("vercel project read", 1);
                c.insert("vercel deployment create", 1);
                c.insert("vercel deployment read", 1);
            }
            lim.insert(format!("vercel {}", vercel_project(v)), c);
        }
        let jobs = self.shard_patterns().len();
        if s.state {
            // Each job reads its record (a list, then the archive through its
            // redirect once one exists) and uploads a new one when it wrote
            // (CreateArtifact, the blob, FinalizeArtifact): with shards, a
            // Fly shard none of whose apps gets the changed key writes nothing.
            let mut c = Counts::from([("state record: artifact list", jobs)]);
            if run != Run::First {
                c.insert("state record: download", 2 * jobs);
            }
            let others = esc_keys.iter().chain(&gh_keys).any(|&n| n > 0) || vercel.iter().any(|w| w.upsert);
            let writing = if jobs == 1 {
                usize::from(others || fly_keys.iter().any(|&n| n > 0))
            } else {
                let shard = |a: usize| a * fly_shards(s) / s.apps;
                let fly = (0..fly_shards(s)).filter(|&k| (0..s.apps).any(|a| shard(a) == k && fly_keys[a] > 0)).count();
                usize::from(others) + fly
            };
            if writing > 0 {
                c.insert("state record: upload", 3 * writing);
            }
            lim.insert("state".into(), c);
        }
        // Only the job that handles the first target (`esc:env-00`: the
        // `esc:*,github:*` shard, which has the GitHub targets too) reads the
        // org's metadata: rotation and drift are the same in every shard.
        lim.insert(
            "github metadata".into(),
            Counts::from([("github metadata (org pages + repository)", s.secrets.div_ceil(GH_PAGE) + 1)]),
        );
        lim
    }

    fn check_requests(&self, run: Run, changed: Option<usize>, deployments_before: usize) -> bool {
        let limits = self.limits(run, changed);
        let mut seen: BTreeMap<String, Counts> = BTreeMap::new();
        // A deployment's routes name no project: its id does (the emulator
        // knows whose it is), and the deployments created this run are the
        // emulator's newest.
        let (projects, created): (BTreeMap<String, String>, Vec<String>) = {
            let st = self.emu.state();
            let name = |id: &str| st.vercel.project(id).name.clone();
            let all = st.vercel.deployments.iter().map(|d| (d.id.clone(), name(&d.project))).collect();
            (all, st.vercel.deployments[deployments_before..].iter().map(|d| name(&d.project)).collect())
        };
        for l in self.emu.log() {
            let (target, kind) = match classify(&l.method, &l.path) {
                (t, "vercel deployment read") => {
                    let id = l.path.rsplit('/').next().unwrap_or_default();
                    (projects.get(id).map_or(t, |p| format!("vercel {p}")), "vercel deployment read")
                }
                // Counted from the deployments made: a create that made
                // none stays here, off every limit.
                (_, "vercel deployment create") => continue,
                tk => tk,
            };
            *seen.entry(target).or_default().entry(kind).or_default() += 1;
        }
        let creates = self.emu.log().iter().filter(|l| l.method == "POST" && l.path == "/v13/deployments").count();
        if creates != created.len() {
            *seen.entry("vercel deployments".into()).or_default().entry("vercel deployment create").or_default() +=
                creates.abs_diff(created.len());
        }
        for p in created {
            *seen.entry(format!("vercel {p}")).or_default().entry("vercel deployment create").or_default() += 1;
        }
        let mut by_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for c in limits.values() {
            for (k, n) in c {
                by_kind.entry(k).or_default().1 += n;
            }
        }
        for c in seen.values() {
            for (k, n) in c {
                by_kind.entry(k).or_default().0 += n;
            }
        }
        let off: Vec<String> = limits
            .keys()
            .chain(seen.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter(|t| limits.get(*t) != seen.get(*t))
            .map(|t| format!("{t}: {:?} (limit {:?})", seen.get(t), limits.get(t)))
            .collect();
        let total: (usize, usize) = by_kind.values().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let kinds: Vec<String> = by_kind.iter().map(|(k, (got, lim))| format!("{k} {got}/{lim}")).collect();
        println!(
            "{}, {}: requests {} (limit {}): {}; targets off the limit: {}",
            self.label(),
            run.name(),
            total.0,
            total.1,
            kinds.join(", "),
            if off.is_empty() { "none".to_string() } else { off.len().to_string() }
        );
        for o in off.iter().take(5) {
            println!("  off the limit: {o}");
        }
        off.is_empty() & self.check_serving(deployments_before)
    }

    /// Every redeploy of this run ended serving production (the product
    /// waited for it): the project's production deployment is the new one.
    fn check_serving(&self, deployments_before: usize) -> bool {
        let st = self.emu.state();
        let stale: Vec<String> = st.vercel.deployments[deployments_before..]
            .iter()
            .filter(|d| st.vercel.projects.iter().any(|p| p.id == d.project && p.production.as_ref() != Some(&d.id)))
            .map(|d| d.id.clone())
            .collect();
        if !stale.is_empty() {
            println!("  Vercel redeploys not serving production: {}", stale.join(", "));
        }
        stale.is_empty()
    }
}

/// What one Vercel project gets in one run.
struct VercelRun {
    upsert: bool,
    redeploy: bool,
}

const STATE_KEY: &str = "scale-bench-state-key-0123456789abcdef";

/// A runtime token like the runner's: a JWT whose `scp` claim names the
/// results service's run and job; one run id per run of the benchmark (an
/// artifact name is unique within a run).
fn runtime_token(run: Run) -> String {
    use base64::Engine;
    let claim = format!(r#"{{"scp":"Actions.Results:bench-{}:job"}}"#, run.name());
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claim);
    format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig")
}

fn gh_scope(g: usize) -> String {
    let (_, repo, env) = GH_TARGETS[g];
    env.map_or(repo.to_string(), |e| format!("{repo}:{e}"))
}

/// (target, kind) of one request, by the paths the real APIs use.
fn classify(method: &str, path: &str) -> (String, &'static str) {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["api", "esc", "environments", o, p, e, "decrypt"]) => {
            (format!("esc {o}/{p}/{e}"), "esc read (decrypt)")
        }
        ("GET", ["api", "esc", "environments", o, p, e]) => {
            (format!("esc {o}/{p}/{e}"), "esc write: stored-definition read")
        }
        ("PATCH", ["api", "esc", "environments", o, p, e]) => (format!("esc {o}/{p}/{e}"), "esc write: PATCH"),
        ("GET", ["v1", "apps", a, "secrets"]) => (format!("fly {a}"), "fly secrets list"),
        ("POST", ["v1", "apps", a, "secrets"]) => (format!("fly {a}"), "fly secrets write"),
        (_, ["v1", "apps", a, "machines", ..]) => (format!("fly {a}"), "fly machine calls"),
        ("GET", ["orgs", _, "actions", "secrets"]) => {
            ("github metadata".into(), "github metadata (org pages + repository)")
        }
        ("GET", ["repos", o, n, "actions", "secrets"]) if format!("{o}/{n}") == RUNNER_REPO => {
            ("github metadata".into(), "github metadata (org pages + repository)")
        }
        (m, ["repos", o, n, "actions", "secrets", rest @ ..]) => gh_kind(format!("github {o}/{n}"), m, rest),
        (m, ["repos", o, n, "environments", e, "secrets", rest @ ..]) => {
            gh_kind(format!("github {o}/{n}:{e}"), m, rest)
        }
        ("GET", ["repos", _, _, "actions", "artifacts"]) => ("state".into(), "state record: artifact list"),
        ("GET", ["repos", _, _, "actions", "artifacts", _, "zip"]) => ("state".into(), "state record: download"),
        ("GET", ["_blob", ..]) => ("state".into(), "state record: download"),
        (_, ["_blob", ..]) | (_, ["twirp", ..]) => ("state".into(), "state record: upload"),
        ("GET", ["v10", "projects", p, "env"]) => (format!("vercel {p}"), "vercel list"),
        ("POST", ["v10", "projects", p, "env"]) => (format!("vercel {p}"), "vercel upsert"),
        ("GET", ["v9", "projects", p]) => (format!("vercel {p}"), "vercel project read"),
        ("POST", ["v13", "deployments"]) => ("vercel deployments".into(), "vercel deployment create"),
        ("GET", ["v13", "deployments", _]) => ("vercel deployments".into(), "vercel deployment read"),
        _ => (format!("other {method} {path}"), "other"),
    }
}

fn gh_kind(target: String, method: &str, rest: &[&str]) -> (String, &'static str) {
    let kind = match (method, rest) {
        ("GET", []) => "github list",
        ("GET", ["public-key"]) => "github public key",
        ("PUT", [_]) => "github put",
        _ => "other",
    };
    (target, kind)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The end of a failed job's output (no values: the bench's own fakes).
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.starts_with("::add-mask::")).collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
