//! The report uploaded as a run artifact through the emulated results
//! service: the zip's content, size and SHA-256 are checked.

use std::io::Read;

use secret_sync_emulators::Emulator;

use crate::harness::{repo, Workspace};

/// A runtime token like the runner's: a JWT whose `scp` claim names the
/// results-service scope with the run and job backend ids.
fn runtime_token() -> String {
    let payload = secret_sync::util::b64(
        br#"{"scp":"Actions.ExampleScope Actions.Results:run-backend-7:job-backend-9","ac":"[]"}"#,
    );
    format!("eyJhbGciOiJIUzI1NiJ9.{}.CANARYruntimeSignature0000", payload.trim_end_matches('='))
}

fn run(emu: &Emulator, extra: &[(&str, &str)]) -> (Workspace, crate::harness::Output) {
    let ws = Workspace::new();
    ws.manifest_from(&repo().join("examples/minimal/secret-sync.yml"));
    let secrets = std::fs::read(repo().join("examples/minimal/secrets.env")).unwrap();
    let vals =
        secret_sync::values::SecretValues::from_dotenv(&secrets, "env", secret_sync::values::Origin::SecretsFile)
            .unwrap();
    let json: serde_json::Map<String, serde_json::Value> = vals
        .names()
        .map(|n| (n.to_string(), secret_sync::values::expose(&vals.get(n).unwrap().1.secret).into()))
        .collect();
    let json = serde_json::Value::Object(json).to_string();
    let token = runtime_token();
    let results = format!("{}/", emu.url);
    let mut env = vec![("ACTIONS_RUNTIME_TOKEN", token.as_str()), ("ACTIONS_RESULTS_URL", results.as_str())];
    env.extend_from_slice(extra);
    let out = ws.action(&[("secrets", &json)], &env);
    assert!(!out.everything_visible().contains("CANARYruntimeSignature"), "the runtime token was shown");
    (ws, out)
}

#[test]
fn report_and_summary_are_uploaded_as_one_zip() {
    let emu = Emulator::start();
    emu.state().results.runtime_token = Some(runtime_token());
    let (_ws, out) = run(&emu, &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(emu.count_exact("POST", "/twirp/github.actions.results.api.v1.ArtifactService/CreateArtifact"), 1);
    assert_eq!(emu.count("PUT", "/_blob/"), 1);
    assert_eq!(emu.count_exact("POST", "/twirp/github.actions.results.api.v1.ArtifactService/FinalizeArtifact"), 1);

    let st = emu.state();
    let a = st.results.newest("secret-sync-report").expect("uploaded");
    assert_eq!((a.run.as_str(), a.job.as_str()), ("run-backend-7", "job-backend-9"));
    // As toolkit's upload-artifact.ts sends it today: version 7, the MIME type of a zip.
    assert_eq!((a.version, a.mime_type.as_deref()), (7, Some("application/zip")));
    assert_eq!(a.content_type.as_deref(), Some("application/zip"));
    let id = a.id.expect("finalized: size and sha256 matched the upload");
    assert!(out.outputs.contains(&format!("artifact-id<<ghadelimiter_PID_0\n{id}\n")), "{}", out.outputs);

    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(a.blob.clone().unwrap())).unwrap();
    let mut read = |name: &str| {
        let mut s = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s
    };
    assert_eq!(read("secret-sync-report.json"), out.report);
    assert_eq!(read("secret-sync-summary.md"), out.summary);
}

#[test]
fn no_artifact_service_is_a_warning_not_a_failure() {
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        st.results.runtime_token = Some(runtime_token());
        st.results.disabled = true; // GitHub Enterprise Server has no results service
    }
    let (_ws, out) = run(&emu, &[]);
    assert_eq!(out.code, 0);
    let warning =
        out.stdout.lines().find(|l| l.starts_with("::warning title=secret-sync artifact::")).expect("a warning");
    assert!(warning.contains("HTTP 404"), "{warning}");
    assert!(!out.report.is_empty(), "the report is still written");
}
