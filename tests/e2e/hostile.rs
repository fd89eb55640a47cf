//! Hostile input (issue 13): a manifest or payload written to attack the
//! check that reads it. Every manifest field, and the payload's keys, carry
//! an injection string through every channel the text can reach: the job
//! summary (Markdown), the runner's workflow commands (stdout, with and
//! without a summary file), the terminal, and a generated `.env.example`.

use std::process::{Command, Stdio};

use crate::harness::{cli, repo, Workspace, BIN, OFFLINE};

/// What an attacker writes, as YAML double-quoted text: a live image and
/// code-span break-out for Markdown, CR/LF followed by workflow commands
/// (and the legacy `##[...]` form, which the runner finds anywhere in a
/// line), Markdown links, emphasis and a cell separator, a terminal colour
/// escape and a bidi override.
const INJECT: &str = r#"I`<img src=https://x.example/p.png>`\r::add-mask::INJECTED\n::stop-commands::pwn\n##[set-output name=a]b *em* [l](https://x.example) | \e[31mRED\u202e"#;
/// The same without control characters but a newline (which free text may
/// hold), so it passes the manifest's character checks and reaches the
/// channels that show free text.
const INJECT_TEXT: &str = r#"I`<img src=https://x.example/p.png>`\n::add-mask::INJECTED\nEVIL=1\n##[set-output name=a]b *em* [l](https://x.example) | x"#;

const BASE: &str = r#"version: 1
environments:
  @ENV@: { description: @ENVDESC@, source_prefix: @PREFIX@ }
groups:
  @GROUP@: { description: @GROUPDESC@ }
targets:
  esc:
    @TARGET@: { environment: @ENV@, path: @ESCPATH@ }
  fly:
    api: { environment: @ENV@, app: @APP@, deploy: @DEPLOY@ }
  github:
    site: { environment: @ENV@, repo: @REPO@, env: @GHENV@ }
secrets:
  @NAME@:
    description: @DESC@
    owner: @OWNER@
    group: @GROUPREF@
    format: @FORMAT@
    pattern: @PATTERN@
    required: [ @REQUIRED@ ]
    rotate_every: @ROTATE@
    source: @SOURCE@
    from_env: @FROMENV@
    @UNKNOWN@: 1
    to:
      - esc: @TARGETREF@
        path: @ROUTEPATH@
        env_var: @ENVVAR@
      - fly: api
        as: @AS@
      - github: site
"#;

/// Placeholder → valid value. `@ENV@` and `@GROUP@` are declared and
/// referenced, so they change together (as `@TARGET@`/`@TARGETREF@` do not:
/// one is the declaration, the other the reference).
const FIELDS: &[(&str, &str)] = &[
    ("@ENV@", "production"),
    ("@ENVDESC@", "prod"),
    ("@PREFIX@", "PROD_"),
    ("@GROUP@", "team"),
    ("@GROUPDESC@", "the team"),
    ("@TARGET@", "app"),
    ("@ESCPATH@", "acme/app/production"),
    ("@APP@", "acme-api"),
    ("@DEPLOY@", "restart"),
    ("@REPO@", "acme/site"),
    ("@GHENV@", "production"),
    ("@NAME@", "API_KEY"),
    ("@DESC@", "the API key"),
    ("@OWNER@", "platform"),
    ("@GROUPREF@", "team"),
    ("@FORMAT@", "hex"),
    ("@PATTERN@", "'^[0-9a-f]+$'"),
    ("@REQUIRED@", "production"),
    ("@ROTATE@", "90d"),
    ("@SOURCE@", "API_KEY"),
    ("@FROMENV@", "API_KEY_ENV"),
    ("@UNKNOWN@", "min_length"),
    ("@TARGETREF@", "app"),
    ("@ROUTEPATH@", "api.key"),
    ("@ENVVAR@", "API_KEY"),
    ("@AS@", "API_KEY"),
];

/// Fields whose text is shown nowhere: descriptions of groups and
/// environments are documentation only.
const SILENT: &[&str] = &["@ENVDESC@", "@GROUPDESC@"];

fn manifest(field: &str, injection: &str) -> String {
    let mut m = BASE.to_string();
    for (p, v) in FIELDS {
        let v = if *p == field {
            if *p == "@PATTERN@" {
                // A pattern must compile: the injection, regex-escaped.
                format!("\"{}\"", regex::escape(injection).replace('\\', "\\\\"))
            } else {
                format!("\"{injection}\"")
            }
        } else {
            v.to_string()
        };
        m = m.replace(p, &v);
    }
    m
}

/// The runner's reading of a step's output (actions/runner,
/// src/Runner.Common/ActionCommand.cs and src/Runner.Worker/ActionCommandManager.cs):
/// lines end at LF, CR or CRLF (.NET `ReadLine`); `::name ...::data` after
/// leading whitespace, or `##[name ...]data` anywhere in the line; after
/// `::stop-commands::TOKEN` only a `TOKEN` command counts. Returns the
/// commands it would run, and the stop tokens it accepted.
fn runner_commands(out: &str) -> (Vec<(String, String)>, Vec<String>) {
    const REGISTERED: &[&str] = &[
        "add-mask",
        "error",
        "warning",
        "notice",
        "debug",
        "group",
        "endgroup",
        "set-output",
        "set-env",
        "add-path",
        "save-state",
        "echo",
        "add-matcher",
        "remove-matcher",
        "stop-commands",
    ];
    let parse = |line: &str, token: Option<&str>| -> Option<(String, String)> {
        let known = |n: &str| REGISTERED.iter().any(|r| r.eq_ignore_ascii_case(n)) || token == Some(n);
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("::") {
            if let Some(end) = rest.find("::") {
                let name = rest[..end].split(' ').next().unwrap_or("");
                if known(name) {
                    return Some((name.to_string(), rest[end + 2..].to_string()));
                }
            }
        }
        let i = line.find("##[")?;
        let rb = line[i..].find(']')? + i;
        let name = line[i + 3..rb].split(' ').next().unwrap_or("");
        known(name).then(|| (name.to_string(), line[rb + 1..].to_string()))
    };
    let (mut run, mut tokens) = (Vec::new(), Vec::new());
    let mut stopped: Option<String> = None;
    for line in out.replace("\r\n", "\n").split(['\n', '\r']) {
        let Some((name, data)) = parse(line, stopped.as_deref()) else { continue };
        match &stopped {
            Some(t) if name.eq_ignore_ascii_case(t) => stopped = None,
            Some(_) => {}
            None if name == "stop-commands" => {
                tokens.push(data.clone());
                stopped = Some(data);
            }
            None => run.push((name, data)),
        }
    }
    (run, tokens)
}

fn assert_workflow_commands_safe(label: &str, stdout: &str) {
    let (run, tokens) = runner_commands(stdout);
    for (name, data) in &run {
        assert!(["add-mask", "error", "warning", "notice"].contains(&name.as_str()), "{label}: ran `{name}`");
        assert!(!(name == "add-mask" && data.contains("INJECTED")), "{label}: an injected mask ran");
        assert!(!data.contains('\u{1b}'), "{label}: raw ESC in a command's data");
    }
    for t in &tokens {
        assert!(t.starts_with("secret-sync-") && t.len() > 40, "{label}: stop token `{t}` is not ours");
    }
}

fn assert_terminal_safe(label: &str, text: &str) {
    for bad in ['\u{1b}', '\r', '\u{202e}', '\u{7}'] {
        assert!(!text.contains(bad), "{label}: raw {bad:?} reached the terminal:\n{text}");
    }
    for line in text.lines() {
        assert!(!line.starts_with("EVIL="), "{label}: injected a line: {line}");
        assert!(!line.trim_start().starts_with("::"), "{label}: a line reads as a workflow command: {line}");
    }
}

/// Parses the summary as GitHub does (CommonMark + tables) and fails on
/// anything the injection could have made live: HTML other than the
/// report's own tags, images, links, emphasis, strikethrough; and checks
/// that no table row gained a cell.
fn assert_markdown_safe(label: &str, md: &str) {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    const OURS: &[&str] = &["details", "summary", "code", "br", "sub"];
    for ev in Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        match ev {
            Event::Html(h) | Event::InlineHtml(h) => {
                for tag in h.split('<').skip(1) {
                    let name: String =
                        tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
                    assert!(OURS.contains(&name.to_ascii_lowercase().as_str()), "{label}: live HTML `<{tag}`");
                }
            }
            Event::Start(Tag::Image { .. } | Tag::Link { .. } | Tag::Emphasis | Tag::Strikethrough) => {
                panic!("{label}: live markup {ev:?} in\n{md}")
            }
            _ => {}
        }
    }
    assert!(!md.contains('\r') && !md.contains('\u{1b}'), "{label}: raw control characters in the summary");
    // Each table keeps its column count: unescaped pipes per row as in its header.
    let pipes = |l: &str| l.char_indices().filter(|&(i, c)| c == '|' && !l[..i].ends_with('\\')).count();
    let mut header: Option<usize> = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = pipes(line);
            let h = *header.get_or_insert(n);
            assert_eq!(n, h, "{label}: a table row split: {line}");
        } else {
            header = None;
        }
    }
}

const PAYLOAD_VALUE: &str = "0123456789abcdef0123456789abcdef";

fn payload(extra_key: Option<&str>) -> String {
    let mut map = serde_json::Map::new();
    map.insert("PROD_API_KEY".into(), PAYLOAD_VALUE.into());
    if let Some(k) = extra_key {
        map.insert(k.into(), PAYLOAD_VALUE.into());
    }
    serde_json::Value::Object(map).to_string()
}

#[test]
fn injection_through_every_field_reaches_no_channel_live() {
    // The base manifest is valid, so each injected field is the only change.
    let ws = Workspace::new();
    ws.manifest_text(&manifest("", ""));
    let ok = cli(&["check-manifest", "-m", ".github/secret-sync.yml"], &ws.root());
    assert_eq!(ok.code, 0, "{}", ok.stderr);

    // YAML's escapes, written out, for the payload key (JSON's own escapes).
    let raw_inject =
        INJECT.replace("\\r", "\r").replace("\\n", "\n").replace("\\e", "\u{1b}").replace("\\u202e", "\u{202e}");
    let mut cases: Vec<(String, String, Option<String>)> = Vec::new();
    for (field, _) in FIELDS {
        for inj in [INJECT, INJECT_TEXT] {
            cases.push((field.to_string(), manifest(field, inj), None));
        }
    }
    cases.push(("payload key".into(), manifest("", ""), Some(raw_inject.clone())));

    let mut reached: std::collections::BTreeMap<String, bool> = Default::default();
    for (field, text, key) in &cases {
        ws.manifest_text(text);
        let label = |ch: &str| format!("{field} via {ch}");
        let json = payload(key.as_deref());
        let env = [("API_KEY_ENV", "")];
        let mut seen = String::new();

        // Terminal: check-manifest, and validate printing the summary.
        let check = cli(&["check-manifest", "-m", ".github/secret-sync.yml"], &ws.root());
        assert!(check.code == 0 || check.code == 2, "{}: {}", label("check-manifest"), check.stderr);
        assert_terminal_safe(&label("check-manifest"), &format!("{}{}", check.stdout, check.stderr));
        seen.push_str(&check.stderr);
        std::fs::write(ws.root().join("values.json"), &json).unwrap();
        let term = cli(&["validate", "-m", ".github/secret-sync.yml", "-s", "values.json"], &ws.root());
        assert_ne!(term.code, 101, "{}", label("terminal validate"));
        assert_terminal_safe(&label("terminal validate"), &format!("{}{}", term.stdout, term.stderr));
        assert_markdown_safe(&label("terminal summary"), &term.stdout);
        seen.push_str(&term.stdout);

        // Actions, summary file: Markdown in the file, annotations on stdout.
        let out = ws.action(&[("secrets", &json)], &env);
        assert!([0, 2].contains(&out.code), "{}: {}", label("action"), out.stdout);
        assert_markdown_safe(&label("summary file"), &out.summary);
        assert_workflow_commands_safe(&label("annotations"), &out.stdout);
        serde_json::from_str::<serde_json::Value>(&out.report).expect("the report stays JSON");
        seen.push_str(&out.summary);

        // Actions without a summary file (older GHES): the summary on stdout.
        let out = ws.action(&[("secrets", &json)], &[("GITHUB_STEP_SUMMARY", ""), ("API_KEY_ENV", "")]);
        assert!(out.stdout.contains("::stop-commands::secret-sync-"), "{}", label("stdout summary"));
        assert_workflow_commands_safe(&label("stdout summary"), &out.stdout);
        seen.push_str(&out.stdout);

        // A generated .env.example, when the manifest is valid.
        if check.code == 0 {
            let t = cli(&["template", "-m", ".github/secret-sync.yml", "-o", "-"], &ws.root());
            assert_eq!(t.code, 0, "{}", t.stderr);
            for line in t.stdout.lines() {
                assert!(
                    line.is_empty() || line.starts_with('#') || line == "API_KEY=",
                    "{}: injected a line: {line:?}",
                    label("template")
                );
            }
            seen.push_str(&t.stdout);
        }
        *reached.entry(field.clone()).or_default() |= seen.contains("INJECTED");
    }
    for (field, hit) in reached {
        if !SILENT.contains(&field.as_str()) {
            assert!(hit, "{field}: the injection reached no channel, so this test proved nothing for it");
        }
    }
}

/// Runs the binary with `env` (raw bytes allowed) over a clean environment.
fn run_raw(
    args: &[&str],
    cwd: &std::path::Path,
    env: &[(&str, &std::ffi::OsStr)],
    stdin: Option<&[u8]>,
) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(OFFLINE)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        use std::io::Write;
        // The binary stops reading at its cap: a broken pipe is expected then.
        let _ = child.stdin.take().unwrap().write_all(input);
    }
    let out = wait_bounded(child);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits for the child, killing it after 20 s so a regression hangs no CI
/// (the assertion is on the result, not on a time).
fn wait_bounded(mut child: std::process::Child) -> std::process::Output {
    for _ in 0..2000 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    panic!("the run did not finish (killed): {}", String::from_utf8_lossy(&out.stderr));
}

#[cfg(unix)]
fn non_utf8() -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    std::ffi::OsString::from_vec(b"prod\xffuction".to_vec())
}

#[cfg(unix)]
#[test]
fn non_utf8_environment_variables_are_usage_errors_not_crashes() {
    let ws = Workspace::new();
    ws.manifest_from(&repo().join("examples/minimal/secret-sync.yml"));
    let os = |s: &str| std::ffi::OsString::from(s);
    let bad = non_utf8();
    let base = [("GITHUB_ACTIONS", os("true")), ("INPUT_MODE", os("validate")), ("INPUT_SECRETS", os("{}"))];
    let with = |extra: (&str, &std::ffi::OsStr)| {
        let mut env: Vec<(&str, &std::ffi::OsStr)> = base.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        env.push(extra);
        run_raw(&["action"], &ws.root(), &env, None)
    };
    // An input: exit 3, naming the variable and not its value.
    let (code, stdout, stderr) = with(("INPUT_ENVIRONMENT", &bad));
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(stdout.contains("`INPUT_ENVIRONMENT` is not valid UTF-8"), "{stdout}");
    assert!(!stdout.contains("uction") && !stderr.contains("panicked"), "{stdout}{stderr}");
    // Someone else's variable: none of our business, the run goes on.
    let (code, stdout, _) = with(("SOME_OTHER_TOOL", &bad));
    assert_eq!(code, 2, "the minimal example's secrets are missing: {stdout}");
    // A `from_env` variable the manifest reads: exit 3, naming it.
    ws.manifest_text("version: 1\nsecrets:\n  API_KEY: { from_env: API_KEY_ENV }\n");
    let (code, stdout, _) = with(("API_KEY_ENV", &bad));
    assert_eq!(code, 3, "{stdout}");
    assert!(stdout.contains("`API_KEY_ENV`") && !stdout.contains("uction"), "{stdout}");
}

#[cfg(unix)]
#[test]
fn a_non_utf8_secrets_input_names_the_line_and_column_of_the_first_bad_byte() {
    use std::os::unix::ffi::OsStringExt;
    let ws = Workspace::new();
    ws.manifest_from(&repo().join("examples/minimal/secret-sync.yml"));
    let bad =
        std::ffi::OsString::from_vec(b"{\n  \"A\": \"fine\",\n  \"B\": \"caf\xc3\xa9 x\xffsecretpart\"\n}".to_vec());
    let env = [
        ("GITHUB_ACTIONS", std::ffi::OsString::from("true")),
        ("INPUT_MODE", "validate".into()),
        ("INPUT_SECRETS", bad),
    ];
    let env: Vec<(&str, &std::ffi::OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let (code, stdout, stderr) = run_raw(&["action"], &ws.root(), &env, None);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(!stdout.contains("secretpart") && !stderr.contains("secretpart"), "{stdout}{stderr}");
    // Line 3, column 15: `é` is one character.
    insta::assert_snapshot!("non_utf8_secrets_input", stdout.lines().find(|l| l.contains("UTF-8")).unwrap_or_default());
}

#[cfg(unix)]
#[test]
fn special_and_oversized_files_are_refused_without_reading() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("m.yml"), "version: 1\nsecrets:\n  A: {}\n").unwrap();
    let fifo = d.join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // Sparse: the file system reports 2 GiB, nothing is stored.
    let sparse = d.join("sparse.yml");
    std::fs::File::create(&sparse).unwrap().set_len(2 << 30).unwrap();
    let sparse_env = d.join("sparse.env");
    std::fs::File::create(&sparse_env).unwrap().set_len(2 << 30).unwrap();
    std::fs::create_dir(d.join("dir.yml")).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["check-manifest", "-m", "fifo"], "it is a named pipe (FIFO), not a regular file"),
        (&["check-manifest", "-m", "/dev/zero"], "it is a character device, not a regular file"),
        (&["check-manifest", "-m", "dir.yml"], "it is a directory, not a regular file"),
        (&["check-manifest", "-m", "sparse.yml"], "is larger than the limit of 4 MiB (2147483648 bytes)"),
        (&["validate", "-m", "m.yml", "-s", "fifo"], "the secrets file `fifo`: it is a named pipe (FIFO)"),
        (&["validate", "-m", "m.yml", "-s", "/dev/zero"], "it is a character device"),
        (&["validate", "-m", "m.yml", "-s", "sparse.env"], "is larger than the limit of 64 MiB"),
        (&["template", "-m", "fifo", "-o", "-"], "it is a named pipe (FIFO)"),
    ];
    for (args, want) in cases {
        let (code, stdout, stderr) = run_raw(args, d, &[], None);
        assert_eq!(code, 3, "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
    // Standard input stays allowed, and is capped: 65 MiB of zeros stop at the cap.
    let (code, _, stderr) =
        run_raw(&["validate", "-m", "m.yml", "-s", "-"], d, &[], Some(&vec![b'\n'; (65 << 20) as usize]));
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("standard input is larger than the limit of 64 MiB"), "{stderr}");
}

#[test]
fn byte_order_marks_and_cr_line_endings_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let body = "# secrets of the app\nversion: 1\nsecrets:\n  API_KEY: { min_length: 8 }\n";
    for (name, text) in [
        ("bom.yml", format!("\u{feff}{body}")),
        ("cr.yml", body.replace('\n', "\r")),
        ("crlf.yml", body.replace('\n', "\r\n")),
        ("bom-cr.yml", format!("\u{feff}{}", body.replace('\n', "\r"))),
    ] {
        std::fs::write(d.join(name), text).unwrap();
        let out = cli(&["check-manifest", "-m", name], d);
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        assert!(out.stdout.contains("ok — 1 secrets"), "{name}: {}", out.stdout);
    }
    // Lines still count as an editor shows them: CR-only, error on line 4.
    std::fs::write(d.join("cr-bad.yml"), "# c\rversion: 1\rsecrets:\r  API_KEY: { formt: hex }\r").unwrap();
    let out = cli(&["check-manifest", "-m", "cr-bad.yml"], d);
    assert!(out.stderr.starts_with("cr-bad.yml:4:14: error: unknown key `formt`"), "{}", out.stderr);

    // JSON with a byte-order mark on standard input is JSON, and a .env
    // with CR line endings is three lines, not one.
    let json = format!("\u{feff}{}", r#"{"API_KEY": "0123456789abcdef", "OTHER": "x"}"#);
    let (code, stdout, stderr) = run_raw(&["validate", "-m", "bom.yml", "-s", "-"], d, &[], Some(json.as_bytes()));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("`OTHER` was handed in"), "{stdout}");
    std::fs::write(d.join("cr.env"), "API_KEY=0123456789abcdef\rOTHER=x\r").unwrap();
    let out = cli(&["validate", "-m", "bom.yml", "-s", "cr.env"], d);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("`OTHER` was handed in"), "{}", out.stdout);
}

#[test]
fn every_duplicate_key_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let text = "version: 1\nsecrets:\n  A: {}\n  B: { group: api-keys, group: api-keys }\n  A: {}\n  C: { formt: x }\n";
    std::fs::write(dir.path().join("m.yml"), text).unwrap();
    let out = cli(&["check-manifest", "-m", "m.yml"], dir.path());
    assert_eq!(out.code, 2);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "m.yml:4:25: error: `group` is declared twice (first at line 4); remove one",
            "m.yml:5:3: error: `A` is declared twice (first at line 3); remove one",
            "m.yml:6:8: error: unknown key `formt` in secret `C`; did you mean `format`?",
            "m.yml: 3 error(s)",
        ]
    );
}

#[test]
fn a_pasted_value_in_a_dotenv_file_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("m.yml"), "version: 1\nsecrets:\n  API_KEY: {}\n").unwrap();
    // Base64 of a secret, pasted on a line of its own: `=`-padded, so it
    // reads as `NAME=` with an empty value.
    let pasted = "bGVha2VkLXNlY3JldC12YWx1ZS0xMjM0NQ==";
    for (name, text) in [
        ("a.env", format!("API_KEY=0123456789abcdef\n{pasted}\n")),
        ("b.env", format!("API_KEY=0123456789abcdef\n\n{}\n", &pasted[..pasted.len() - 1])),
    ] {
        std::fs::write(d.join(name), text).unwrap();
        for args in [
            &["validate", "-m", "m.yml", "-s", name][..],
            &["validate", "-m", "m.yml", "-s", name, "--report-path", "r.json"],
        ] {
            let out = cli(args, d);
            let report = std::fs::read_to_string(d.join("r.json")).unwrap_or_default();
            let shown = format!("{}{}{report}", out.stdout, out.stderr);
            assert!(!shown.contains("bGVha2Vk"), "{name}: the pasted value was shown: {shown}");
            assert_eq!(out.code, 3, "{name}: {shown}");
            assert!(out.stderr.contains("looks like a pasted value"), "{name}: {}", out.stderr);
        }
    }
    // `NAME=` and `NAME=""` still mean an empty value.
    std::fs::write(d.join("c.env"), "API_KEY=\nlower_name=\nUPPER=\"\"\n").unwrap();
    let out = cli(&["validate", "-m", "m.yml", "-s", "c.env"], d);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stdout.contains("`API_KEY` is set but empty"), "{}", out.stdout);
}

#[test]
fn an_unwritable_report_is_a_usage_error_not_a_sync_failure() {
    let ws = Workspace::new();
    ws.manifest_from(&repo().join("examples/minimal/secret-sync.yml"));
    let json = r#"{"OPENAI_API_KEY":"sk-proj-abcdefghijklmnopqrstuvwx","DATABASE_URL":"postgres://u:p@db.example.com/app","SESSION_SECRET":"0123456789abcdef0123456789abcdef"}"#;
    let good = ws.action(&[("secrets", json)], &[]);
    assert_eq!(good.code, 0, "{}", good.stdout);
    std::fs::create_dir(ws.root().join("report-dir")).unwrap();
    let out = ws.action(&[("secrets", json), ("report-path", "report-dir")], &[]);
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(out.stdout.contains("could not write the report to report-dir"), "{}", out.stdout);
    // A run that failed for its own reasons keeps its code.
    let out = ws.action(&[("secrets", "{}"), ("report-path", "report-dir")], &[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
}

/// `secrets-file`: more secrets than one environment variable can hold
/// (Linux caps one at 128 KiB: about 1,900 secrets of `toJSON(secrets)`),
/// read from the runner's temp directory and deleted once read.
#[test]
fn five_thousand_secrets_through_a_secrets_file() {
    let ws = Workspace::new();
    let mut m = String::from("version: 1\nsecrets:\n");
    let mut map = serde_json::Map::new();
    for i in 0..5000 {
        m.push_str(&format!("  SECRET_{i:04}: {{ min_length: 16 }}\n"));
        map.insert(format!("SECRET_{i:04}"), format!("value-{i:04}-{}", "x".repeat(40)).into());
    }
    map.insert("github_token".into(), "ghs_notusednotusednotused".into());
    ws.manifest_text(&m);
    // As the runner's toJSON writes it: indented, one key per line.
    let json = serde_json::to_string_pretty(&serde_json::Value::Object(map)).unwrap();
    assert!(json.len() > 128 * 1024, "the payload must be larger than one environment variable may be");
    let temp = ws.dir.path().join("runner_temp");
    std::fs::write(temp.join("secrets.json"), &json).unwrap();
    let out = ws.action(&[("secrets-file", "secrets.json")], &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.report_json()["counts"]["secrets_present"], 5000);
    assert_eq!(out.mask_lines().len(), 5001, "every value (and the ignored token) is masked");
    assert!(!temp.join("secrets.json").exists(), "the secrets file was not deleted after reading");
    // An absolute path (the runner rewrites `${{ runner.temp }}/…` to its mount) works too.
    std::fs::write(temp.join("s.json"), &json).unwrap();
    let abs = temp.join("s.json").display().to_string();
    let out = ws.action(&[("secrets-file", &abs)], &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    // A missing file is a usage error naming it.
    let out = ws.action(&[("secrets-file", "secrets.json")], &[]);
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(out.stdout.contains("secrets.json`: no such file"), "{}", out.stdout);
}
