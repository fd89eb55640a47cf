//! `secret-sync demo`: the whole product on the bundled Sophia example, with
//! no credentials and no network. It starts the same in-process emulators
//! the tests use on 127.0.0.1, lets each target kind seed its service (the
//! ESC production environment the way a team would have it, the Fly apps,
//! each kind's projects: `targets::demo`), and runs a real sync
//! against them, printing the job summary a run would write.

use std::path::PathBuf;

use secrecy::SecretString;

use crate::config::{Config, FailOn, Mode, Publish, Style, TargetSettings};
use secret_sync_emulators::Emulator;

const MANIFEST: &str = include_str!("../examples/sophia/secret-sync.yml");
const SECRETS: &str = include_str!("../examples/sophia/secrets.env");
const GITHUB_TOKEN: &str = "ghp_demo-token-for-the-local-emulator";

pub fn run(mode: Mode) -> crate::exit::Exit {
    let emu = Emulator::start();
    let mut manifest_text = MANIFEST.to_string();
    let mut secrets_text = SECRETS.to_string();
    let kinds = {
        let mut st = emu.state();
        // Each target kind seeds its own emulator (and may add its targets).
        let kinds = crate::targets::demo(&mut crate::targets::Demo {
            state: &mut st,
            url: &emu.url,
            manifest: &mut manifest_text,
            secrets: &mut secrets_text,
        });
        // The org's secrets (names and ages only) and a few secrets nobody declared.
        st.github.tokens.insert(GITHUB_TOKEN.into());
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
        kinds
    };
    // The example is written out under its repository path, so the report
    // points at `examples/sophia/secret-sync.yml:LINE` as it would in CI.
    let dir = std::env::temp_dir().join(format!("secret-sync-demo-{}", std::process::id()));
    let manifest = PathBuf::from("examples/sophia/secret-sync.yml");
    let secrets = PathBuf::from("examples/sophia/secrets.env");
    if let Err(e) = std::fs::create_dir_all(dir.join("examples/sophia"))
        .and_then(|()| std::fs::write(dir.join(&manifest), &manifest_text))
        .and_then(|()| std::fs::write(dir.join(&secrets), &secrets_text))
        .and_then(|()| std::env::set_current_dir(&dir))
    {
        return crate::output::Printer::new(Style::Terminal)
            .usage_error(&format!("cannot write the demo files: {}", crate::util::io_reason(&e)));
    }
    eprintln!("demo: every service emulated on {} (nothing leaves this machine)\n", emu.url);
    // The run's environment, with every service's base URL at the emulators.
    let mut runner = crate::config::Runner::from_env();
    runner.github_api = emu.url.clone();
    // The emulators' clock: GitHub's pace, a roll, a redeploy's
    // build move it, so the demo waits for nothing.
    runner.clock = crate::clock::Remote::clock(&emu.url);
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
            kinds,
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
