//! From manifest text to the typed [`Manifest`], collecting every error.
//!
//! The YAML is parsed into a tree that keeps a position on every node
//! (marked-yaml), then walked by hand rather than through serde: serde stops
//! at the first error, and users fixing a manifest in CI want all of them at
//! once, each pointing at its line and column.

use std::collections::HashMap;

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{LoaderOptions, Node};

use super::model::*;
use super::names;
use super::scan;
use super::section::{Entry, Sections};
use super::suggest;

mod secrets;
mod yaml;

use crate::diag::{line_col, Diagnostic};
use crate::duration::Period;
pub use secrets::compile_pattern;
use yaml::yaml_error;

mod fly_checks;

/// Manifests larger than this are refused before parsing (the reader
/// refuses them before reading; see `crate::input`).
pub const MAX_MANIFEST_BYTES: usize = crate::input::MAX_MANIFEST_BYTES as usize;
/// No single string in a manifest needs to be longer than this.
const MAX_SCALAR_CHARS: usize = 4096;

const TOP_KEYS: &[&str] = &["version", "defaults", "groups", "environments", "targets", "secrets"];
const DEFAULTS_KEYS: &[&str] = &[
    "rotate_every",
    "warn_before",
    "fly_deploy",
    "fly_checks",
    "probe",
    "github_write_interval",
    "github_rate_limit_wait",
];
const GROUP_KEYS: &[&str] = &["description", "rotate_every", "probe"];
const ENV_KEYS: &[&str] = &["description", "source_prefix", "source_suffix"];
const SECRET_KEYS: &[&str] = &[
    "description",
    "group",
    "owner",
    "format",
    "pattern",
    "min_length",
    "required",
    "rotate_every",
    "source",
    "from_env",
    "probe",
    "to",
];
/// Keys of a route besides the kinds' names (which kinds use which: their
/// [`super::RouteRule`]).
const ROUTE_FIELDS: &[&str] = &["path", "env_var", "as"];

/// Parses manifest bytes. `file` is the path shown in diagnostics; `kinds`
/// are the target kinds it may name (`crate::targets::SECTIONS`).
pub fn parse(bytes: &[u8], file: &str, kinds: &Sections) -> Result<Manifest, Vec<Diagnostic>> {
    let at = |line, col, title: &str, message: String| Diagnostic {
        file: file.to_string(),
        line,
        col,
        title: title.to_string(),
        message,
    };
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(vec![at(
            1,
            1,
            "manifest too large",
            format!("the manifest is {} bytes; the limit is {} bytes", bytes.len(), MAX_MANIFEST_BYTES),
        )]);
    }
    // A byte-order mark is not content; CR and CRLF end lines as LF does.
    let bytes = crate::input::normalise_newlines(crate::input::strip_bom(bytes));
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let (line, col) = line_col(&bytes, e.valid_up_to());
            return Err(vec![at(
                line,
                col,
                "not UTF-8",
                "the manifest is not valid UTF-8 text; save it as UTF-8".into(),
            )]);
        }
    };
    let found = |v: Vec<scan::Found>| v.into_iter().map(|(p, title, msg)| at(p.line, p.col, title, msg));
    let bad_chars: Vec<Diagnostic> = found(scan::forbidden_chars(text)).collect();
    if !bad_chars.is_empty() {
        return Err(bad_chars);
    }
    if text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---"
    }) {
        return Err(vec![at(
            1,
            1,
            "empty manifest",
            "the manifest is empty; start it with `version: 1` and a `secrets:` mapping".into(),
        )]);
    }

    // Every duplicate key, a second document and escaped control characters
    // are found here; the tree below keeps the last of duplicate keys, so
    // every other error is reported in the same run.
    let mut errors: Vec<Diagnostic> = found(scan::events(text)).collect();
    // With coercion prevented, only plain (unquoted) scalars may be read as
    // numbers, booleans or null: `version: "1"` is a string, as YAML says.
    let root = match marked_yaml::parse_yaml_with_options(0, text, LoaderOptions::default().prevent_coercion(true)) {
        Ok(n) => n,
        Err(e) => {
            errors.push(yaml_error(file, e, text));
            errors.sort_by_key(|d| (d.line, d.col));
            return Err(errors);
        }
    };

    let mut w = Walker { file, kinds, errors, targets_seen: HashMap::new() };
    let manifest = w.manifest(&root);
    if w.errors.is_empty() {
        Ok(manifest)
    } else {
        w.errors.sort_by_key(|d| (d.line, d.col));
        Err(w.errors)
    }
}

/// Where a node starts.
pub fn pos_of(node: &Node) -> Pos {
    node.span()
        .start()
        .map(|m| Pos { line: m.line().max(1), col: m.column().max(1) })
        .unwrap_or(Pos { line: 1, col: 1 })
}

/// Where a scalar starts.
pub fn pos_of_scalar(s: &MarkedScalarNode) -> Pos {
    s.span().start().map(|m| Pos { line: m.line().max(1), col: m.column().max(1) }).unwrap_or(Pos { line: 1, col: 1 })
}

fn kind_of(node: &Node) -> &'static str {
    match node {
        Node::Scalar(s) if is_null(s) => "nothing",
        Node::Scalar(_) => "a single value",
        Node::Mapping(_) => "a mapping",
        Node::Sequence(_) => "a list",
    }
}

fn is_null(s: &MarkedScalarNode) -> bool {
    s.may_coerce() && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL")
}

/// Walks the tree, collecting every error with its place; kinds parse their
/// targets' settings with it (see [`super::section::Entry`]).
pub struct Walker<'f> {
    file: &'f str,
    kinds: &'f Sections,
    errors: Vec<Diagnostic>,
    /// (kind, name) of declared targets, for route checks.
    targets_seen: HashMap<(TargetKind, String), Pos>,
}

impl Walker<'_> {
    pub fn err(&mut self, pos: Pos, title: &str, message: String) {
        self.errors.push(Diagnostic {
            file: self.file.to_string(),
            line: pos.line,
            col: pos.col,
            title: title.to_string(),
            message,
        });
    }

    /// Flags keys not in `allowed`, with a suggestion.
    pub fn check_keys(&mut self, map: &MarkedMappingNode, allowed: &[&str], within: &str) {
        for (k, _) in map.iter() {
            let key = k.as_str();
            if !allowed.contains(&key) {
                let hint = suggest::hint(key, allowed.iter().copied());
                let hint = if hint.is_empty() { format!("; expected one of: {}", allowed.join(", ")) } else { hint };
                self.err(pos_of_scalar(k), "unknown key", format!("unknown key `{key}` in {within}{hint}"));
            }
        }
    }

    pub fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n MarkedMappingNode> {
        match node {
            Node::Mapping(m) => Some(m),
            other => {
                self.err(pos_of(other), "wrong type", format!("{what} must be a mapping, found {}", kind_of(other)));
                None
            }
        }
    }

    /// A mapping, or nothing at all (`KEY:` with no value) which counts as empty.
    pub fn mapping_or_null<'n>(&mut self, node: &'n Node, what: &str) -> Option<Option<&'n MarkedMappingNode>> {
        match node {
            Node::Scalar(s) if is_null(s) => Some(None),
            other => self.mapping(other, what).map(Some),
        }
    }

    pub fn scalar<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n MarkedScalarNode> {
        match node {
            Node::Scalar(s) if is_null(s) => {
                self.err(pos_of(node), "missing value", format!("{what} has no value"));
                None
            }
            Node::Scalar(s) => {
                let n = s.as_str().chars().count();
                if n > MAX_SCALAR_CHARS {
                    self.err(
                        pos_of(node),
                        "value too long",
                        format!("{what} is {n} characters long; the limit is {MAX_SCALAR_CHARS}"),
                    );
                    return None;
                }
                Some(s)
            }
            other => {
                self.err(
                    pos_of(other),
                    "wrong type",
                    format!("{what} must be a single value, found {}", kind_of(other)),
                );
                None
            }
        }
    }

    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        self.scalar(node, what).map(|s| s.as_str().to_string())
    }

    pub fn opt_string(&mut self, map: &MarkedMappingNode, key: &str, what: &str) -> Option<String> {
        map.get_node(key).and_then(|n| self.string(n, &format!("`{key}` of {what}")))
    }

    pub fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        let s = self.scalar(node, what)?;
        match (s.may_coerce(), s.as_str()) {
            (true, "true") => Some(true),
            (true, "false") => Some(false),
            _ => {
                self.err(
                    pos_of(node),
                    "wrong type",
                    format!("{what} must be `true` or `false`, found `{}`", s.as_str()),
                );
                None
            }
        }
    }

    pub fn period(&mut self, node: &Node, what: &str) -> Option<Period> {
        let s = self.scalar(node, what)?;
        match Period::parse(s.as_str()) {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(pos_of(node), "invalid duration", format!("{what}: {e}"));
                None
            }
        }
    }

    /// A string or a list of strings.
    pub fn names(&mut self, node: &Node, what: &str) -> Vec<(String, Pos)> {
        match node {
            Node::Sequence(seq) => {
                if seq.is_empty() {
                    self.err(pos_of(node), "missing value", format!("{what} is an empty list"));
                }
                seq.iter().filter_map(|n| self.string(n, what).map(|s| (s, pos_of(n)))).collect()
            }
            other => self.string(other, what).map(|s| (s, pos_of(other))).into_iter().collect(),
        }
    }

    pub fn check_name(&mut self, pos: Pos, name: &str, what: &str, rule: names::Rule) -> bool {
        match rule(name) {
            Ok(()) => true,
            Err(why) => {
                self.err(pos, "invalid name", format!("{what} `{name}` {why}"));
                false
            }
        }
    }

    fn manifest(&mut self, root: &Node) -> Manifest {
        let mut m = Manifest {
            file: self.file.to_string(),
            defaults: Defaults::default(),
            groups: Vec::new(),
            environments: Vec::new(),
            targets: Vec::new(),
            secrets: Vec::new(),
        };
        let Some(top) = self.mapping(root, "the manifest") else {
            return m;
        };
        self.check_keys(top, TOP_KEYS, "the manifest");

        match top.get_node("version") {
            None => self.err(
                Pos { line: 1, col: 1 },
                "missing key",
                "missing `version: 1` at the top of the manifest".into(),
            ),
            Some(n) => {
                if let Some(s) = self.scalar(n, "`version`") {
                    match (s.may_coerce(), s.as_str()) {
                        (true, "1") => {}
                        (false, v) => self.err(
                            pos_of(n),
                            "wrong type",
                            format!("`version` must be the number 1, not the string \"{v}\""),
                        ),
                        (true, v) => self.err(
                            pos_of(n),
                            "unsupported version",
                            format!("manifest version `{v}` is not supported; this secret-sync reads `version: 1`"),
                        ),
                    }
                }
            }
        }
        if let Some(n) = top.get_node("defaults") {
            self.defaults(n, &mut m.defaults);
        }
        if let Some(n) = top.get_node("groups") {
            m.groups = self.groups(n);
        }
        match top.get_node("environments") {
            Some(n) => m.environments = self.environments(n),
            None => m.environments.push(Environment {
                name: DEFAULT_ENVIRONMENT.into(),
                pos: Pos { line: 1, col: 1 },
                description: None,
                source_prefix: None,
                source_suffix: None,
            }),
        }
        if let Some(n) = top.get_node("targets") {
            m.targets = self.targets(n, &m);
        }
        match top.get_node("secrets") {
            None => self.err(
                Pos { line: 1, col: 1 },
                "missing key",
                "missing `secrets:`: declare at least one secret".into(),
            ),
            Some(n) => m.secrets = self.secrets(n, &m),
        }
        m
    }

    fn defaults(&mut self, node: &Node, d: &mut Defaults) {
        let Some(Some(map)) = self.mapping_or_null(node, "`defaults`") else {
            return;
        };
        self.check_keys(map, DEFAULTS_KEYS, "`defaults`");
        if let Some(n) = map.get_node("rotate_every") {
            d.rotate_every = self.period(n, "`defaults.rotate_every`");
        }
        if let Some(n) = map.get_node("warn_before") {
            if let Some(p) = self.period(n, "`defaults.warn_before`") {
                d.warn_before = p;
            }
        }
        if let Some(n) = map.get_node("fly_deploy") {
            if let Some(dep) = self.deploy(n, "`defaults.fly_deploy`") {
                d.fly_deploy = dep;
            }
        }
        if let Some(n) = map.get_node("fly_checks") {
            d.fly_checks = self.fly_checks(n, "`defaults.fly_checks`", FlyChecks::default());
        }
        if let Some(n) = map.get_node("probe") {
            d.probe = self.probe(n, "`defaults.probe`", false);
        }
        for (key, slot) in [
            ("github_write_interval", &mut d.github_write_interval),
            ("github_rate_limit_wait", &mut d.github_rate_limit_wait),
        ] {
            if let Some(n) = map.get_node(key) {
                let what = format!("`defaults.{key}`");
                let Some(s) = self.scalar(n, &what) else { continue };
                match crate::duration::parse_wait(s.as_str()) {
                    Ok(w) => *slot = w,
                    Err(e) => self.err(pos_of(n), "invalid duration", format!("{what}: {e}")),
                }
            }
        }
    }

    pub fn deploy(&mut self, node: &Node, what: &str) -> Option<Deploy> {
        let s = self.string(node, what)?;
        match s.as_str() {
            "restart" => Some(Deploy::Restart),
            "stage" => Some(Deploy::Stage),
            other => {
                let hint = suggest::hint(other, ["restart", "stage"]);
                self.err(
                    pos_of(node),
                    "invalid value",
                    format!("{what} must be `restart` or `stage`, found `{other}`{hint}"),
                );
                None
            }
        }
    }

    fn groups(&mut self, node: &Node) -> Vec<GroupDecl> {
        let mut out = Vec::new();
        let Some(Some(map)) = self.mapping_or_null(node, "`groups`") else {
            return out;
        };
        for (k, v) in map.iter() {
            let name = k.as_str().to_string();
            self.check_name(pos_of_scalar(k), &name, "group name", names::simple_name);
            let mut g = GroupDecl { name: name.clone(), description: None, rotate_every: None, probe: None };
            let what = format!("group `{name}`");
            if let Some(Some(gm)) = self.mapping_or_null(v, &what) {
                self.check_keys(gm, GROUP_KEYS, &what);
                g.description = self.opt_string(gm, "description", &what);
                if let Some(n) = gm.get_node("rotate_every") {
                    g.rotate_every = self.period(n, &format!("`rotate_every` of {what}"));
                }
                if let Some(n) = gm.get_node("probe") {
                    g.probe = self.probe(n, &format!("`probe` of {what}"), false);
                }
            }
            out.push(g);
        }
        out
    }

    fn environments(&mut self, node: &Node) -> Vec<Environment> {
        let mut out = Vec::new();
        let Some(Some(map)) = self.mapping_or_null(node, "`environments`") else {
            return out;
        };
        if map.is_empty() {
            self.err(
                pos_of(node),
                "missing value",
                "`environments` is empty; declare at least one or remove the key".into(),
            );
        }
        for (k, v) in map.iter() {
            let name = k.as_str().to_string();
            let pos = pos_of_scalar(k);
            self.check_name(pos, &name, "environment name", names::simple_name);
            let what = format!("environment `{name}`");
            let mut e = Environment { name, pos, description: None, source_prefix: None, source_suffix: None };
            if let Some(Some(em)) = self.mapping_or_null(v, &what) {
                self.check_keys(em, ENV_KEYS, &what);
                e.description = self.opt_string(em, "description", &what);
                for (key, slot) in [("source_prefix", &mut e.source_prefix), ("source_suffix", &mut e.source_suffix)] {
                    if let Some(n) = em.get_node(key) {
                        if let Some(s) = self.string(n, &format!("`{key}` of {what}")) {
                            if self.check_name(pos_of(n), &s, &format!("`{key}`"), names::name_fragment) {
                                *slot = Some(s);
                            }
                        }
                    }
                }
            }
            out.push(e);
        }
        out
    }

    fn targets(&mut self, node: &Node, m: &Manifest) -> Vec<Target> {
        let mut out = Vec::new();
        let Some(Some(map)) = self.mapping_or_null(node, "`targets`") else {
            return out;
        };
        let kinds = self.kinds;
        let names: Vec<&str> = kinds.iter().map(|k| k.kind().as_str()).collect();
        self.check_keys(map, &names, "`targets`");
        for section in kinds {
            let kind = section.kind();
            let Some(n) = map.get_node(kind.as_str()) else {
                continue;
            };
            let within = format!("`targets.{kind}`");
            let Some(Some(tm)) = self.mapping_or_null(n, &within) else {
                continue;
            };
            for (k, v) in tm.iter() {
                let name = k.as_str().to_string();
                let pos = pos_of_scalar(k);
                self.check_name(pos, &name, "target name", names::simple_name);
                let what = format!("target `{kind}.{name}`");
                // Known even when its settings are wrong, so routes to it do
                // not cascade into "undeclared target" errors.
                self.targets_seen.insert((kind, name.clone()), pos);
                let Some(settings) = self.mapping_or_null(v, &what) else {
                    continue;
                };
                let empty = MarkedMappingNode::new_empty(*k.span());
                let settings = settings.unwrap_or(&empty);
                if let Some(t) = self.target(*section, name, pos, settings, m) {
                    out.push(t);
                }
            }
        }
        out
    }

    fn target(
        &mut self,
        section: &dyn super::Section,
        name: String,
        pos: Pos,
        map: &MarkedMappingNode,
        m: &Manifest,
    ) -> Option<Target> {
        let kind = section.kind();
        let what = format!("target `{kind}.{name}`");
        self.check_keys(map, section.keys(), &what);
        let env_names = m.environment_names();
        let environment = match map.get_node("environment") {
            Some(n) => {
                let e = self.string(n, &format!("`environment` of {what}"))?;
                if !env_names.contains(&e.as_str()) {
                    let hint = suggest::hint(&e, env_names.iter().copied());
                    self.err(
                        pos_of(n),
                        "undeclared environment",
                        format!("{what} uses environment `{e}`, which is not declared under `environments`{hint}"),
                    );
                    return None;
                }
                e
            }
            None if env_names.len() == 1 => env_names[0].to_string(),
            None => {
                self.err(pos, "missing key", format!("{what} needs `environment:` (one of: {})", env_names.join(", ")));
                return None;
            }
        };
        let spec = section.parse(&mut Entry { name: &name, pos, what: &what, map, defaults: &m.defaults, w: self })?;
        Some(Target { kind, name, pos, environment, spec })
    }
}
