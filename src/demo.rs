//! `secret-sync demo`: the whole product on the bundled Sophia example, with
//! no credentials and no network. It starts the same in-process emulators
//! the tests use on 127.0.0.1, seeds the ESC production environment the way
//! a team would have it (imports, hand-written values, a stale key), and runs
//! a real sync against them, printing the job summary a run would write.

use std::path::PathBuf;

use secrecy::SecretString;

use crate::config::{Config, FailOn, Mode, Publish, Style, TargetSettings};
use secret_sync_emulators::fly::Kind;
use secret_sync_emulators::{esc::encrypt, Emulator};

const MANIFEST: &str = include_str!("../examples/sophia/secret-sync.yml");
const SECRETS: &str = include_str!("../examples/sophia/secrets.env");
const TOKEN: &str = "pul-demo-token-for-the-local-emulator";
const FLY_TOKEN: &str = "fm2_demo-macaroon-for-the-local-emulator";
const GITHUB_TOKEN: &str = "ghp_demo-token-for-the-local-emulator";

pub fn run(mode: Mode) -> crate::exit::Exit {
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        st.esc.tokens.insert(TOKEN.into());
        st.esc.seed("ai-cherry/sophia/base", "values:\n  region: us-east-1\n  observability:\n    sampleRate: 0.25\n");
        st.esc.seed(
            "ai-cherry/sophia/production",
            &format!(
                "imports:\n  - sophia/base\nvalues:\n  featureFlags:\n    newOnboarding: true\n  openai:\n    apiKey:\n      fn::secret:\n        ciphertext: {}\n  environmentVariables:\n    REGION: ${{region}}\n",
                encrypt("sk-proj-an-old-key-that-was-rotated-000000")
            ),
        );
        // Every Fly app of the example, with two running machines each, one
        // key set by hand long ago and one the manifest does not know. The
        // first app also has an auto-stopped machine (updated without being
        // woken) and a `fly console` machine (left alone).
        st.fly.tokens.insert(FLY_TOKEN.into());
        if let Ok(m) = crate::manifest::parse(MANIFEST.as_bytes(), "demo", crate::targets::SECTIONS) {
            let apps: Vec<&String> =
                m.targets.iter().filter_map(|t| t.spec::<crate::targets::fly::Spec>().map(|s| &s.app)).collect();
            for (i, app) in apps.iter().enumerate() {
                st.fly.add_app(app, 2);
                st.fly.set(app, "SENTRY_DSN", "https://old@o0.ingest.sentry.io/1");
                st.fly.set(app, "FLY_POSTGRES_PRIMARY", "set-by-fly-postgres-attach");
                if i == 0 {
                    st.fly.add_machine(app, &format!("{app}-stopped"), Kind::App("stopped"));
                    st.fly.add_machine(app, &format!("{app}-console"), Kind::Console);
                }
            }
        }
        // The org's secrets (names and ages only), the two repositories the
        // example writes to, and a few secrets nobody declared.
        st.github.tokens.insert(GITHUB_TOKEN.into());
        st.github.add_repo("ai-cherry/sophia-infra");
        st.github.add_env("ai-cherry/sophia-dashboard", "production");
        for (i, line) in SECRETS.lines().filter(|l| l.contains('=') && !l.starts_with('#')).enumerate() {
            let name = line.split('=').next().unwrap_or_default().trim();
            // Spread the ages: most changed 12 days ago, one long overdue, one
            // due within days.
            let days = match i {
                3 => 400,
                7 => 86,
                _ => 12,
            };
            let updated = crate::util::rfc3339(crate::util::now_secs() - days * 86_400);
            st.github.org_secret("ai-cherry", name, &updated, "all");
        }
        for extra in ["LEGACY_ZAPIER_KEY", "OLD_MIXPANEL_TOKEN"] {
            st.github.org_secret(
                "ai-cherry",
                extra,
                &crate::util::rfc3339(crate::util::now_secs() - 500 * 86_400),
                "all",
            );
        }
    }
    // The example is written out under its repository path, so the report
    // points at `examples/sophia/secret-sync.yml:LINE` as it would in CI.
    let dir = std::env::temp_dir().join(format!("secret-sync-demo-{}", std::process::id()));
    let manifest = PathBuf::from("examples/sophia/secret-sync.yml");
    let secrets = PathBuf::from("examples/sophia/secrets.env");
    if let Err(e) = std::fs::create_dir_all(dir.join("examples/sophia"))
        .and_then(|()| std::fs::write(dir.join(&manifest), MANIFEST))
        .and_then(|()| std::fs::write(dir.join(&secrets), SECRETS))
        .and_then(|()| std::env::set_current_dir(&dir))
    {
        return crate::output::Printer::new(Style::Terminal)
            .usage_error(&format!("cannot write the demo files: {}", crate::util::io_reason(&e)));
    }
    eprintln!("demo: emulated Pulumi ESC, Fly.io and GitHub on {} (nothing leaves this machine)\n", emu.url);
    // The run's environment, with every service's base URL at the emulators.
    let mut runner = crate::config::Runner::from_env();
    runner.github_api = emu.url.clone();
    let cfg = Config {
        mode,
        manifest,
        environment: Some("production".into()),
        secrets_json: None,
        secrets_files: vec![secrets],
        consume_secrets_files: false,
        fail_on: FailOn::Error,
        selection: None,
        targets: TargetSettings {
            kinds: crate::targets::Inputs {
                esc: crate::targets::esc::Inputs {
                    token: Some(SecretString::from(TOKEN)),
                    api_url: Some(emu.url.clone()),
                    ..Default::default()
                },
                fly: crate::targets::fly::Inputs {
                    token: Some(SecretString::from(FLY_TOKEN)),
                    flaps_url: emu.url.clone(),
                    ..Default::default()
                },
                ..Default::default()
            },
            github_token: Some(SecretString::from(GITHUB_TOKEN)),
            github_org: Some("ai-cherry".into()),
            prune: false,
            max_deletes: crate::config::DEFAULT_MAX_DELETES,
        },
        probe: false,
        scan: crate::scan::Options::default(),
        state: Default::default(),
        runner,
        out: Publish {
            style: Style::Terminal,
            report_path: None,
            report_output: None,
            summary_path: None,
            output_path: None,
            artifact: crate::config::ArtifactMode::Off,
            artifact_name: crate::config::DEFAULT_ARTIFACT_NAME.into(),
            artifact_service: None,
            http: crate::http::Policy::default(),
        },
    };
    let code = crate::run::run(&cfg);
    let _ = std::env::set_current_dir(std::env::temp_dir());
    let _ = std::fs::remove_dir_all(&dir);
    code
}
