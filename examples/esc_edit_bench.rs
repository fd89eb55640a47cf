//! Benchmark for `scripts/bench.sh`: one edit of a 5,000-line ESC definition
//! (plan the change, edit the text losslessly, re-parse and check it), the
//! work secret-sync does per environment between its reads and its write.
//!
//!   cargo run --release --example esc_edit_bench [-- RUNS]
//!   cargo run --release --example esc_edit_bench -- first SECRETS [RUNS]
//!
//! `first SECRETS`: the first sync of SECRETS new secrets into an empty
//! definition (`values: {}`), as the scale benchmark routes them
//! (`svcNNN.keyNNNNN`, 97 services), planned on the decrypted text and
//! edited again on the stored one, as the ESC target does.

use std::time::Instant;

use secrecy::SecretString;
use secret_sync::targets::esc::{definition, edit};
use secret_sync::targets::DesiredKey;

/// A definition of about `lines` lines in the shapes ESC users write:
/// comments, nested mappings, secrets as ciphertext, interpolations, flow
/// collections, a block scalar, environment variables.
fn definition_text(lines: usize) -> String {
    let mut t = String::from("# Generated for the benchmark.\nimports:\n  - shared/base\nvalues:\n");
    let mut n = 0;
    while t.lines().count() < lines - 12 {
        t.push_str(&format!(
            "  # service {n}\n  service{n}:\n    region: eu-west-{r} # where it runs\n    url: https://${{service{n}.region}}.example.com\n    tags: [a, b, c]\n    limits: {{cpu: 2, memory: 4Gi}}\n    apiKey:\n      fn::secret:\n        ciphertext: ZXNjeAAAAAHo9e705fKyKo30VQ==\n    notes: |\n      kept as written\n\n",
            r = n % 3
        ));
        n += 1;
    }
    t.push_str("  environmentVariables:\n    REGION: ${service0.region}\n");
    t
}

/// The first sync of `secrets` new keys into `values: {}`: plan (parse,
/// diff, the checked edit on the decrypted text), then the checked edit on
/// the stored text.
fn first_sync(secrets: usize, runs: usize) {
    let text = "values: {}\n";
    let keys: Vec<DesiredKey> = (0..secrets)
        .map(|i| DesiredKey {
            key: format!("svc{:03}.key{i:05}", i % 97),
            secret: format!("SECRET_{i:05}"),
            source: None,
            value: SecretString::from(format!("value-1-{i:05}-abcdefghijklmnopqrstuvwxyz0123456789")),
            env_var: None,
        })
        .collect();
    let mut times = Vec::with_capacity(runs);
    let mut out = String::new();
    for _ in 0..runs {
        let started = Instant::now();
        let doc = definition::parse(text).expect("parses");
        let plan = definition::plan(&doc, &keys, &[], false).expect("plans");
        drop(doc);
        edit::apply(text, &plan.ops).expect("edits");
        out = edit::apply(text, &plan.ops).expect("edits");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    assert!(out.len() > text.len());
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "ESC first sync of {secrets} secrets into `values: {{}}` (plan, checked edit twice): median {:.2} ms (min {:.2}, max {:.2}, {runs} runs; {} KiB written)",
        times[runs / 2],
        times[0],
        times[runs - 1],
        out.len() / 1024
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("first") {
        let secrets = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
        let runs = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(3);
        return first_sync(secrets, runs);
    }
    let runs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20);
    let text = definition_text(5000);
    let keys = vec![
        // One secret updated in the middle, one created, with its variable.
        DesiredKey {
            key: "service100.apiKey".into(),
            secret: "A".into(),
            source: None,
            value: SecretString::from("new-value"),
            env_var: None,
        },
        DesiredKey {
            key: "newService.token".into(),
            secret: "B".into(),
            source: None,
            value: SecretString::from("token"),
            env_var: Some("NEW_TOKEN".into()),
        },
    ];
    let mut times = Vec::with_capacity(runs);
    let mut out = String::new();
    for _ in 0..runs {
        let started = Instant::now();
        let doc = definition::parse(&text).expect("parses");
        let plan = definition::plan(&doc, &keys, &[], false).expect("plans");
        out = edit::apply(&text, &plan.ops).expect("edits");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    assert!(out.len() > text.len());
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "ESC edit, one update + one create in a {}-line definition ({} KiB; parse, plan, edit, re-parse and check): median {:.2} ms (min {:.2}, max {:.2}, {runs} runs)",
        text.lines().count(),
        text.len() / 1024,
        times[runs / 2],
        times[0],
        times[runs - 1]
    );
}
