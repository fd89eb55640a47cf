//! The `secrets:` section: each secret's rules, its environments and its
//! routes to targets, with every route key claimed once per target.

use std::collections::{BTreeMap, HashMap};

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::Node;
use regex::{Regex, RegexBuilder};

use super::super::model::*;
use super::super::section::{RouteRule, Section};
use super::super::{names, suggest};
use super::{kind_of, pos_of, pos_of_scalar, Walker, ROUTE_FIELDS, SECRET_KEYS};
use crate::formats::Format;

impl Walker<'_> {
    pub(super) fn secrets(&mut self, node: &Node, m: &Manifest) -> Vec<Secret> {
        let mut out = Vec::new();
        let Some(map) = self.mapping(node, "`secrets`") else {
            return out;
        };
        if map.is_empty() {
            self.err(pos_of(node), "missing value", "`secrets` is empty; declare at least one secret".into());
        }
        let mut seen: HashMap<String, (String, Pos)> = HashMap::new();
        let mut keys = RouteKeys::default();
        for (k, v) in map.iter() {
            let name = k.as_str().to_string();
            let pos = pos_of_scalar(k);
            self.check_name(pos, &name, "secret name", names::github_secret);
            if let Some((prev, prev_pos)) = seen.get(&name.to_ascii_uppercase()) {
                self.err(
                    pos,
                    "duplicate secret",
                    format!(
                        "secret `{name}` duplicates `{prev}` (line {}): GitHub secret names are case-insensitive",
                        prev_pos.line
                    ),
                );
            } else {
                seen.insert(name.to_ascii_uppercase(), (name.clone(), pos));
            }
            if let Some(s) = self.secret(name, pos, v, m, &mut keys) {
                out.push(s);
            }
        }
        out
    }

    fn secret(&mut self, name: String, pos: Pos, node: &Node, m: &Manifest, keys: &mut RouteKeys) -> Option<Secret> {
        let what = format!("secret `{name}`");
        let map = self.mapping_or_null(node, &what)?;
        let empty = MarkedMappingNode::new_empty(*node.span());
        let map = map.unwrap_or(&empty);
        self.check_keys(map, SECRET_KEYS, &what);
        let mut s = Secret {
            name: name.clone(),
            pos,
            description: self.opt_string(map, "description", &what),
            group: None,
            owner: self.opt_string(map, "owner", &what),
            format: None,
            pattern: None,
            min_length: None,
            required: Required::Always,
            rotate_every: None,
            source: None,
            from_env: None,
            probe: None,
            routes: Vec::new(),
        };
        if let Some(n) = map.get_node("group") {
            if let Some(g) = self.string(n, &format!("`group` of {what}")) {
                let known: Vec<&str> =
                    BUILTIN_GROUPS.iter().map(|(n, _)| *n).chain(m.groups.iter().map(|g| g.name.as_str())).collect();
                if known.contains(&g.as_str()) {
                    s.group = Some(g);
                } else {
                    let hint = suggest::hint(&g, known.iter().copied());
                    let hint = if hint.is_empty() {
                        "; declare it under `groups:` or use a built-in group".to_string()
                    } else {
                        hint
                    };
                    self.err(
                        pos_of(n),
                        "unknown group",
                        format!("{what} is in group `{g}`, which is neither built in nor declared{hint}"),
                    );
                }
            }
        }
        if let Some(n) = map.get_node("format") {
            if let Some(f) = self.string(n, &format!("`format` of {what}")) {
                match Format::parse(&f) {
                    Some(fmt) => s.format = Some(fmt),
                    None => {
                        let hint = suggest::hint(&f, Format::names());
                        let hint = if hint.is_empty() {
                            format!("; known formats: {}", Format::names().join(", "))
                        } else {
                            hint
                        };
                        self.err(pos_of(n), "unknown format", format!("unknown format `{f}` for {what}{hint}"));
                    }
                }
            }
        }
        if let Some(n) = map.get_node("pattern") {
            if let Some(p) = self.string(n, &format!("`pattern` of {what}")) {
                match compile_pattern(&p) {
                    Ok(re) => s.pattern = Some(re),
                    Err(why) => self.err(
                        pos_of(n),
                        "invalid pattern",
                        format!("`pattern` of {what} is not a valid regex: {why}"),
                    ),
                }
            }
        }
        if let Some(n) = map.get_node("min_length") {
            if let Some(v) = self.scalar(n, &format!("`min_length` of {what}")) {
                match v.as_str().parse::<usize>() {
                    Ok(len) if v.may_coerce() && (1..=65536).contains(&len) => s.min_length = Some(len),
                    _ => self.err(
                        pos_of(n),
                        "wrong type",
                        format!(
                            "`min_length` of {what} must be a whole number from 1 to 65536, found `{}`",
                            v.as_str()
                        ),
                    ),
                }
            }
        }
        if let Some(n) = map.get_node("required") {
            s.required = self.required(n, &what, m)?;
        }
        if let Some(n) = map.get_node("rotate_every") {
            s.rotate_every = self.period(n, &format!("`rotate_every` of {what}"));
        }
        if let Some(n) = map.get_node("source") {
            if let Some(src) = self.string(n, &format!("`source` of {what}")) {
                if self.check_name(pos_of(n), &src, "source secret name", names::github_secret) {
                    s.source = Some(src);
                }
            }
        }
        if let Some(n) = map.get_node("from_env") {
            if let Some(v) = self.string(n, &format!("`from_env` of {what}")) {
                if self.check_name(pos_of(n), &v, "environment variable", names::env_var) {
                    s.from_env = Some(v);
                }
            }
        }
        if let Some(n) = map.get_node("probe") {
            s.probe = self.probe(n, &format!("`probe` of {what}"), true);
            self.check_probe(&s, pos_of(n));
        }
        if let Some(n) = map.get_node("to") {
            s.routes = self.routes(n, &name, keys);
        }
        Some(s)
    }

    /// A `probe:` setting. Anything that is not a plain value (a mapping
    /// with a URL, say) is refused: see `crate::manifest::probe::NO_CUSTOM`.
    pub(super) fn probe(&mut self, node: &Node, what: &str, named: bool) -> Option<crate::manifest::probe::Setting> {
        if !matches!(node, Node::Scalar(_)) {
            self.err(pos_of(node), "custom probe refused", format!("{what}: {}", crate::manifest::probe::NO_CUSTOM));
            return None;
        }
        let s = self.scalar(node, what)?;
        match crate::manifest::probe::parse_setting(s.as_str(), s.may_coerce(), named, self.kinds) {
            Ok(p) => Some(p),
            Err(why) => {
                let title = if why.contains("pull request") { "custom probe refused" } else { "invalid value" };
                self.err(pos_of(node), title, format!("{what} {why}"));
                None
            }
        }
    }

    /// `probe: true` needs a format with a built-in probe, and a named probe
    /// must be the format's own: a value is only sent to its own service.
    fn check_probe(&mut self, s: &Secret, pos: Pos) {
        use crate::manifest::probe::{Service, Setting};
        let own = s.format.and_then(Service::for_format);
        match (s.probe, own) {
            (Some(Setting::Auto), None) => self.err(
                pos,
                "no built-in probe",
                format!(
                    "secret `{}` has `probe: true` but no `format` with a built-in probe; set `format` or name the probe (one of: {})",
                    s.name,
                    Service::names(self.kinds).join(", ")
                ),
            ),
            (Some(Setting::Named(p)), Some(f)) if p != f => self.err(
                pos,
                "wrong probe",
                format!(
                    "secret `{}` is a `{}` value but names the `{}` probe; a value is only sent to its own service: use `probe: {}` or `true`",
                    s.name,
                    s.format.map(|f| f.name()).unwrap_or_default(),
                    p.name(),
                    f.name()
                ),
            ),
            _ => {}
        }
    }

    fn required(&mut self, node: &Node, what: &str, m: &Manifest) -> Option<Required> {
        let env_names = m.environment_names();
        match node {
            Node::Sequence(seq) => {
                let mut list = Vec::new();
                for item in seq.iter() {
                    let e = self.string(item, &format!("an entry of `required` of {what}"))?;
                    if !env_names.contains(&e.as_str()) {
                        let hint = suggest::hint(&e, env_names.iter().copied());
                        self.err(
                            pos_of(item),
                            "undeclared environment",
                            format!("`required` of {what} names environment `{e}`, which is not declared under `environments`{hint}"),
                        );
                    }
                    list.push(e);
                }
                Some(Required::In(list))
            }
            other => {
                let b =
                    self.bool(other, &format!("`required` of {what} (`true`, `false` or a list of environments)"))?;
                Some(if b { Required::Always } else { Required::Never })
            }
        }
    }

    fn routes(&mut self, node: &Node, secret: &str, keys: &mut RouteKeys) -> Vec<Route> {
        let mut out = Vec::new();
        let what = format!("`to` of secret `{secret}`");
        let Node::Sequence(seq) = node else {
            self.err(
                pos_of(node),
                "wrong type",
                format!("{what} must be a list of destinations, such as `- fly: [lambda]`; found {}", kind_of(node)),
            );
            return out;
        };
        for entry in seq.iter() {
            let Some(map) = self.mapping(entry, &format!("an entry of {what}")) else {
                continue;
            };
            let kinds = self.kinds;
            let allowed: Vec<&str> =
                kinds.iter().map(|k| k.kind().as_str()).chain(ROUTE_FIELDS.iter().copied()).collect();
            self.check_keys(map, &allowed, &format!("an entry of {what}"));
            let present: Vec<&dyn Section> =
                kinds.iter().copied().filter(|k| map.get_node(k.kind().as_str()).is_some()).collect();
            let (section, kind) = match present.as_slice() {
                [k] => (*k, k.kind()),
                [] => {
                    let names: Vec<String> = kinds.iter().map(|k| format!("`{}:`", k.kind())).collect();
                    self.err(
                        pos_of(entry),
                        "missing key",
                        format!("an entry of {what} names no target: add {}", or_list(&names)),
                    );
                    continue;
                }
                many => {
                    let names: Vec<String> = many.iter().map(|k| format!("`{}`", k.kind())).collect();
                    self.err(
                        pos_of(entry),
                        "ambiguous destination",
                        format!("an entry of {what} names {}; write one entry per kind", names.join(" and ")),
                    );
                    continue;
                }
            };
            let rule = section.route();
            for key in ROUTE_FIELDS {
                let allowed = if *key == "env_var" { rule.env_var } else { rule.field == *key };
                if let (false, Some(k)) = (allowed, map.iter().find(|(k, _)| k.as_str() == *key)) {
                    let users: Vec<String> = kinds
                        .iter()
                        .filter(|s| {
                            let r = s.route();
                            if *key == "env_var" {
                                r.env_var
                            } else {
                                r.field == *key
                            }
                        })
                        .map(|s| format!("`{}`", s.kind()))
                        .collect();
                    let instead = if rule.field == "as" {
                        "; use `as` to rename the key".to_string()
                    } else {
                        format!("; {} entries use `{}`", rule.label.split(' ').next().unwrap_or_default(), rule.field)
                    };
                    self.err(
                        pos_of_scalar(k.0),
                        "misplaced key",
                        format!("`{key}` is only for {} entries, not `{kind}`{instead}", or_list(&users)),
                    );
                }
            }
            let key_node = map.get_node(rule.field);
            let (key, key_pos) = match key_node {
                Some(n) => match self.string(n, &format!("the key of an entry of {what}")) {
                    Some(k) => (k, pos_of(n)),
                    None => continue,
                },
                None => (secret.to_string(), pos_of(entry)),
            };
            if !self.check_name(key_pos, &key, rule.label, rule.rule) {
                continue;
            }
            let env_var = match map.get_node("env_var").filter(|_| rule.env_var) {
                Some(Node::Scalar(s)) if s.may_coerce() && s.as_str() == "true" => Some(secret.to_string()),
                Some(n) => {
                    let v = self.string(n, &format!("`env_var` of an entry of {what}"));
                    v.filter(|v| self.check_name(pos_of(n), v, "environment variable", names::env_var))
                }
                None => None,
            };
            let Some(target_node) = map.get_node(kind.as_str()) else { continue };
            for (target, tpos) in self.names(target_node, &format!("`{kind}` of an entry of {what}")) {
                if !self.targets_seen.contains_key(&(kind, target.clone())) {
                    let declared: Vec<&str> =
                        self.targets_seen.keys().filter(|(k, _)| *k == kind).map(|(_, n)| n.as_str()).collect();
                    let mut hint = suggest::hint(&target, declared);
                    if hint.is_empty() {
                        if let Some((other, _)) = self.targets_seen.keys().find(|(k, n)| *k != kind && *n == target) {
                            hint =
                                format!("; `{target}` is declared under `targets.{other}`: write `{other}: {target}`");
                        }
                    }
                    self.err(
                        tpos,
                        "undeclared target",
                        format!("secret `{secret}` is routed to `{kind}: {target}`, which is not declared under `targets.{kind}`{hint}"),
                    );
                    continue;
                }
                let route =
                    Route { kind, target: target.clone(), pos: tpos, key: key.clone(), env_var: env_var.clone() };
                if let Err(msg) = keys.claim(&route, secret, &rule) {
                    self.err(key_pos, "key conflict", msg);
                    continue;
                }
                out.push(route);
            }
        }
        out
    }
}

/// Keys already claimed at each target, to catch two secrets landing on one key.
#[derive(Default)]
struct RouteKeys {
    claimed: HashMap<(TargetKind, String, String), (String, Pos)>,
    /// ESC `path`s by target, sorted, to find nested paths without comparing
    /// each new path with every earlier one (40,000 routes took 42 s so).
    esc_paths: HashMap<String, BTreeMap<String, (String, Pos)>>,
}

impl RouteKeys {
    fn claim(&mut self, r: &Route, secret: &str, rule: &RouteRule) -> Result<(), String> {
        let norm = |k: &str| {
            if rule.fold_case {
                k.to_ascii_uppercase()
            } else {
                k.to_string()
            }
        };
        let mut wanted = vec![("key", norm(&r.key))];
        if let Some(e) = &r.env_var {
            wanted.push(("environment variable", format!("environmentVariables.{e}")));
        }
        for (label, key) in &wanted {
            let slot = (r.kind, r.target.clone(), key.clone());
            if let Some((other, p)) = self.claimed.get(&slot) {
                if other != secret {
                    return Err(format!(
                        "secret `{secret}` and secret `{other}` (line {}) both write {label} `{}` of `{}: {}`",
                        p.line, key, r.kind, r.target
                    ));
                }
            }
        }
        if rule.nested {
            // `a.b` and `a.b.c` cannot both hold a value.
            let paths = self.esc_paths.entry(r.target.clone()).or_default();
            if let Some((other_key, (other, p))) = nested_in(paths, &r.key) {
                return Err(format!(
                    "ESC path `{}` of secret `{secret}` overlaps `{other_key}` of secret `{other}` (line {}) in `esc: {}`",
                    r.key, p.line, r.target
                ));
            }
            paths.insert(r.key.clone(), (secret.to_string(), r.pos));
        }
        for (_, key) in wanted {
            self.claimed.insert((r.kind, r.target.clone(), key), (secret.to_string(), r.pos));
        }
        Ok(())
    }
}

/// A claimed path that `key` lies under (`a` for `a.b`) or that lies under
/// `key` (`a.b.c` for `a.b`): one lookup per dotted prefix of `key`, and one
/// ordered range lookup for the paths that start with `key.`.
fn nested_in<'a>(paths: &'a BTreeMap<String, (String, Pos)>, key: &str) -> Option<(&'a String, &'a (String, Pos))> {
    let prefixes = key.match_indices('.').map(|(i, _)| &key[..i]);
    for p in prefixes {
        if let Some(found) = paths.get_key_value(p) {
            return Some(found);
        }
    }
    let below = format!("{key}.");
    paths.range(below.clone()..).next().filter(|(k, _)| k.starts_with(&below))
}

/// `a`, `a or b`, `a, b or c`, as the messages write lists of choices.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Compiles a `pattern:` with a size limit, turning regex's multi-line error
/// into its one-line reason.
pub fn compile_pattern(p: &str) -> Result<Regex, String> {
    RegexBuilder::new(p).size_limit(1 << 20).build().map_err(|e| {
        let text = e.to_string();
        text.lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: ").map(str::to_string))
            .unwrap_or_else(|| text.lines().last().unwrap_or("invalid").trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_esc_paths_are_found_in_both_directions() {
        let mut paths = BTreeMap::new();
        for p in ["a.b", "a.bc", "ab.c", "x"] {
            paths.insert(p.to_string(), ("S".to_string(), Pos::default()));
        }
        let hit = |k: &str| nested_in(&paths, k).map(|(k, _)| k.clone());
        assert_eq!(hit("a"), Some("a.b".into()), "a path below the new one");
        assert_eq!(hit("a.b.c"), Some("a.b".into()), "a path above the new one");
        assert_eq!(hit("x.y.z"), Some("x".into()));
        assert_eq!(hit("a.bcd"), None, "a longer sibling is not nested");
        assert_eq!(hit("a.c"), None);
        assert_eq!(hit("ab"), Some("ab.c".into()));
        assert_eq!(hit("a.b"), None, "the same path is the exact-key check's business");
    }
}
