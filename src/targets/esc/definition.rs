//! Planning an edit of an ESC environment definition: only the paths the
//! manifest routes (and their `environmentVariables` entries) are touched,
//! plus the ownership record and, with `prune`, owned entries no longer
//! routed. The plan is a list of [`Op`]s on paths; [`edit::apply`] carries
//! them out on the definition's text without touching anything else.

use std::collections::HashSet;

use secrecy::ExposeSecret;
use yaml_rust2::yaml::Hash;
use yaml_rust2::Yaml;

use super::edit::{self, Op};
use crate::targets::{Action, Change, DesiredKey};

/// Where secret-sync records the paths it wrote, so pruning can tell its own
/// keys from everyone else's.
pub const MARKER: &str = "secretSyncManaged";
const VALUES: &str = "values";
const ENV_VARS: &str = "environmentVariables";
const SECRET: &str = edit::SECRET;

/// The result of diffing one definition against the desired keys.
#[derive(Debug)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Secret paths in the definition the manifest does not route.
    pub unrouted: Vec<String>,
    /// The edits to make; empty when nothing changed.
    pub ops: Vec<Op>,
    pub deletes: usize,
    /// Paths (and `environmentVariables.NAME`s) secret-sync owns that the
    /// manifest no longer routes, left in place because `prune` is off.
    pub kept: Vec<String>,
}

/// A path the manifest routes collides with something secret-sync must not
/// overwrite.
#[derive(Debug, PartialEq, Eq)]
pub struct Collision(pub String);

pub use edit::parse_tree as parse;

fn key(s: &str) -> Yaml {
    Yaml::String(s.to_string())
}

fn path(segs: &[&str]) -> Vec<String> {
    segs.iter().map(|s| s.to_string()).collect()
}

fn values_path(dotted: &str) -> Vec<String> {
    std::iter::once(VALUES).chain(dotted.split('.')).map(str::to_string).collect()
}

/// Diffs `doc` (a decrypted definition) against `desired`. With `prune`,
/// keys recorded in the marker that the manifest no longer routes are
/// deleted. `held_back` paths are routed but have no usable value this run
/// (an optional secret without one): left as they are, still owned, and
/// so is an owned environment variable that refers to one of them.
pub fn plan(doc: &Yaml, desired: &[DesiredKey], held_back: &[String], prune: bool) -> Result<Plan, Collision> {
    let empty = Yaml::Hash(Hash::new());
    let values = match &doc[VALUES] {
        Yaml::BadValue | Yaml::Null => &empty,
        v @ Yaml::Hash(_) => v,
        _ => return Err(Collision("`values` is not a mapping".into())),
    };
    let vars = match &values[ENV_VARS] {
        Yaml::BadValue | Yaml::Null => &empty,
        v @ Yaml::Hash(_) => v,
        _ => return Err(Collision("`values.environmentVariables` is not a mapping".into())),
    };
    let mut changes = Vec::new();
    let mut ops = Vec::new();

    let (owned_paths, owned_vars) = read_marker(values);
    let mut unrouted = Vec::new();
    secret_paths(values, "", &mut unrouted);
    // Held-back keys (no value this run) count as routed: never pruned.
    let routed: HashSet<&str> =
        desired.iter().map(|k| k.key.as_str()).chain(held_back.iter().map(String::as_str)).collect();
    unrouted.retain(|p| !routed.contains(p.as_str()));
    for k in desired {
        let want = k.value.expose_secret();
        let action = match get(values, &k.key) {
            Lookup::Absent => Action::Create,
            Lookup::Found(v) => match secret_text(v) {
                Some(Some(have)) if have == want => Action::Unchanged,
                Some(_) => Action::Update,
                None if v.as_str().is_some() => Action::Update,
                None => {
                    return Err(Collision(format!(
                        "`values.{}` holds a {} that secret-sync did not write; move it or route the secret to another path",
                        k.key,
                        kind(v)
                    )))
                }
            },
            Lookup::Blocked(at) => {
                return Err(Collision(format!(
                    "`values.{}` cannot be written: `values.{at}` holds a value that is not a mapping",
                    k.key
                )))
            }
        };
        if action != Action::Unchanged {
            ops.push(Op::Secret { path: values_path(&k.key), value: want.to_string() });
        }
        changes.push(Change { key: k.key.clone(), action });
        if let Some(var) = &k.env_var {
            let reference = format!("${{{}}}", k.key);
            let action = match &vars[var.as_str()] {
                Yaml::BadValue => Action::Create,
                Yaml::String(s) if *s == reference => Action::Unchanged,
                _ => Action::Update,
            };
            if action != Action::Unchanged {
                ops.push(Op::Text { path: path(&[VALUES, ENV_VARS, var]), value: reference });
            }
            changes.push(Change { key: format!("{ENV_VARS}.{var}"), action });
        }
    }

    let refers_to_held = |v: &str| vars[v].as_str().is_some_and(|r| held_back.iter().any(|h| r == format!("${{{h}}}")));
    let routed_vars: HashSet<&str> = desired
        .iter()
        .filter_map(|k| k.env_var.as_deref())
        .chain(owned_vars.iter().map(String::as_str).filter(|v| refers_to_held(v)))
        .collect();
    let mut deletes = 0;
    let mut still_owned: Vec<String> = Vec::new();
    let mut still_owned_vars: Vec<String> = Vec::new();
    for p in owned_paths.iter().filter(|p| !routed.contains(&p.as_str())) {
        if !matches!(get(values, p), Lookup::Found(_)) {
            continue; // gone already: forget it
        }
        if prune {
            ops.push(Op::Remove { path: values_path(p) });
            changes.push(Change { key: p.clone(), action: Action::Delete });
            deletes += 1;
        } else {
            still_owned.push(p.clone());
        }
    }
    let mut vars_left = vars.as_hash().map_or(0, Hash::len);
    for v in owned_vars.iter().filter(|v| !routed_vars.contains(&v.as_str())) {
        if matches!(vars[v.as_str()], Yaml::BadValue) {
            continue;
        }
        if prune {
            ops.push(Op::Remove { path: path(&[VALUES, ENV_VARS, v]) });
            changes.push(Change { key: format!("{ENV_VARS}.{v}"), action: Action::Delete });
            deletes += 1;
            vars_left -= 1;
        } else {
            still_owned_vars.push(v.clone());
        }
    }
    // Pruning emptied `environmentVariables` (and nothing is added to it):
    // drop the now empty mapping, as a person would.
    let adds_var = ops.iter().any(|o| matches!(o, Op::Text { .. }));
    if vars_left == 0
        && !adds_var
        && ops.iter().any(|o| matches!(o, Op::Remove { path } if path.len() == 3 && path[1] == ENV_VARS))
    {
        ops.retain(|o| !matches!(o, Op::Remove { path } if path.len() == 3 && path[1] == ENV_VARS));
        ops.push(Op::Remove { path: path(&[VALUES, ENV_VARS]) });
    }

    let kept: Vec<String> =
        still_owned.iter().cloned().chain(still_owned_vars.iter().map(|v| format!("{ENV_VARS}.{v}"))).collect();
    if !changes.iter().any(|c| c.action != Action::Unchanged) {
        return Ok(Plan { changes, unrouted, ops: Vec::new(), deletes, kept });
    }
    let mut paths: Vec<String> = desired.iter().map(|k| k.key.clone()).chain(still_owned).collect();
    let mut vars_owned: Vec<String> =
        desired.iter().filter_map(|k| k.env_var.clone()).chain(still_owned_vars).collect();
    paths.sort();
    paths.dedup();
    vars_owned.sort();
    vars_owned.dedup();
    ops.extend(marker_ops(values, paths, vars_owned));
    Ok(Plan { changes, unrouted, ops, deletes, kept })
}

/// Edits that make the ownership record list `paths` and `vars`: only the
/// lists that differ are written.
fn marker_ops(values: &Yaml, paths: Vec<String>, vars: Vec<String>) -> Vec<Op> {
    let marker = &values[MARKER];
    let list = |k: &str| -> Option<Vec<String>> {
        marker[k].as_vec().map(|s| s.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
    };
    let mut ops = Vec::new();
    if !matches!(marker, Yaml::Hash(_)) && !matches!(marker, Yaml::BadValue) {
        // Not a mapping (written by hand?): replaced whole.
        ops.push(Op::Remove { path: path(&[VALUES, MARKER]) });
    }
    if list("paths").as_ref() != Some(&paths) {
        ops.push(Op::List { path: path(&[VALUES, MARKER, "paths"]), items: paths });
    }
    match (vars.is_empty(), list(ENV_VARS)) {
        (true, None) => {}
        (true, Some(_)) => ops.push(Op::Remove { path: path(&[VALUES, MARKER, ENV_VARS]) }),
        (false, Some(have)) if have == vars => {}
        (false, _) => ops.push(Op::List { path: path(&[VALUES, MARKER, ENV_VARS]), items: vars }),
    }
    ops
}

/// Dotted paths of every `fn::secret` under `values` (outside the marker
/// and `environmentVariables`).
fn secret_paths(m: &Yaml, prefix: &str, out: &mut Vec<String>) {
    let Some(h) = m.as_hash() else { return };
    for (k, v) in h {
        let Some(k) = k.as_str() else { continue };
        if prefix.is_empty() && (k == MARKER || k == ENV_VARS) {
            continue;
        }
        let path = if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
        match v {
            v if secret_text(v).is_some() => out.push(path),
            Yaml::Hash(_) => secret_paths(v, &path, out),
            _ => {}
        }
    }
}

/// `Some(Some(text))` for a decrypted `fn::secret`, `Some(None)` for a secret
/// whose text is not visible, `None` for anything else.
fn secret_text(v: &Yaml) -> Option<Option<&str>> {
    let h = v.as_hash()?;
    if h.len() != 1 {
        return None;
    }
    match h.get(&key(SECRET))? {
        Yaml::String(s) => Some(Some(s)),
        _ => Some(None),
    }
}

fn kind(v: &Yaml) -> &'static str {
    match v {
        Yaml::Hash(_) => "mapping",
        Yaml::Array(_) => "list",
        Yaml::Boolean(_) => "boolean",
        Yaml::Integer(_) | Yaml::Real(_) => "number",
        _ => "value",
    }
}

enum Lookup<'a> {
    Absent,
    Found(&'a Yaml),
    /// A prefix of the path holds a non-mapping value.
    Blocked(String),
}

fn get<'a>(values: &'a Yaml, path: &str) -> Lookup<'a> {
    let segs: Vec<&str> = path.split('.').collect();
    let mut cur = values;
    for (i, s) in segs.iter().enumerate() {
        match &cur[*s] {
            Yaml::BadValue => return Lookup::Absent,
            // `a:` with nothing under it is an empty mapping to fill in.
            Yaml::Null if i + 1 < segs.len() => return Lookup::Absent,
            v if i + 1 == segs.len() => return Lookup::Found(v),
            v @ Yaml::Hash(_) if secret_text(v).is_none() => cur = v,
            _ => return Lookup::Blocked(segs[..=i].join(".")),
        }
    }
    Lookup::Absent
}

fn read_marker(values: &Yaml) -> (Vec<String>, Vec<String>) {
    let list = |k: &str| -> Vec<String> {
        values[MARKER][k]
            .as_vec()
            .map(|s| s.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    (list("paths"), list(ENV_VARS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn key(k: &str, v: &str, env: Option<&str>) -> DesiredKey {
        DesiredKey {
            key: k.into(),
            secret: k.into(),
            source: None,
            value: SecretString::from(v),
            env_var: env.map(String::from),
        }
    }

    const DEF: &str = "imports:\n  - base # why\nvalues:\n  region: us-east-1\n  openai:\n    apiKey:\n      fn::secret: old\n  other: kept\nextra: 1\n";

    fn sync(text: &str, keys: &[DesiredKey], prune: bool) -> (Plan, Option<String>) {
        let p = plan(&parse(text).unwrap(), keys, &[], prune).unwrap();
        let t = (!p.ops.is_empty()).then(|| edit::apply(text, &p.ops).unwrap());
        (p, t)
    }

    #[test]
    fn edits_only_managed_paths_and_keeps_the_rest() {
        let (p, new) =
            sync(DEF, &[key("openai.apiKey", "new", Some("OPENAI_API_KEY")), key("slack.token", "t", None)], false);
        let actions: Vec<_> = p.changes.iter().map(|c| (c.key.as_str(), c.action)).collect();
        assert_eq!(
            actions,
            [
                ("openai.apiKey", Action::Update),
                ("environmentVariables.OPENAI_API_KEY", Action::Create),
                ("slack.token", Action::Create)
            ]
        );
        let expected = "imports:\n  - base # why\nvalues:\n  region: us-east-1\n  openai:\n    apiKey:\n      fn::secret: \"new\"\n  other: kept\n  environmentVariables:\n    OPENAI_API_KEY: ${openai.apiKey}\n  slack:\n    token:\n      fn::secret: \"t\"\n  secretSyncManaged:\n    paths:\n    - openai.apiKey\n    - slack.token\n    environmentVariables:\n      - OPENAI_API_KEY\nextra: 1\n";
        assert_eq!(new.unwrap(), expected);
    }

    #[test]
    fn unchanged_means_no_ops() {
        let (p, new) = sync(DEF, &[key("openai.apiKey", "old", None)], false);
        assert!(new.is_none());
        assert_eq!(p.changes[0].action, Action::Unchanged);
    }

    #[test]
    fn prunes_only_owned_keys() {
        let (_, first) = sync(DEF, &[key("a.b", "1", None), key("c", "2", Some("C"))], false);
        let first = first.unwrap();
        // `c` is no longer routed: kept without prune, deleted with it;
        // `region` (never owned) survives both.
        let (p, kept) = sync(&first, &[key("a.b", "1", None)], false);
        assert!(kept.is_none());
        assert_eq!(p.kept, ["c", "environmentVariables.C"], "left in place, for the driver to say");
        let (p, pruned) = sync(&first, &[key("a.b", "1", None)], true);
        assert_eq!(p.deletes, 2);
        let new = parse(&pruned.unwrap()).unwrap();
        assert!(matches!(new["values"]["c"], Yaml::BadValue));
        assert!(matches!(new["values"]["environmentVariables"], Yaml::BadValue));
        assert_eq!(new["values"]["region"].as_str(), Some("us-east-1"));
    }

    #[test]
    fn held_back_keys_are_never_pruned() {
        let (_, first) = sync(DEF, &[key("a.b", "1", None), key("c", "2", Some("C"))], false);
        let first = first.unwrap();
        // `c` has no value this run (optional): held back, it and its variable stay, still owned.
        let p = plan(&parse(&first).unwrap(), &[key("a.b", "1", None)], &["c".to_string()], true).unwrap();
        assert_eq!(p.deletes, 0);
        assert!(p.ops.is_empty(), "{:?}", p.ops);
        assert!(p.changes.iter().all(|c| c.action == Action::Unchanged));
    }

    #[test]
    fn refuses_to_overwrite_unmanaged_structure() {
        let doc = parse(DEF).unwrap();
        assert!(plan(&doc, &[key("region.name", "x", None)], &[], false).is_err());
        let e = plan(&doc, &[key("openai", "x", None)], &[], false).unwrap_err();
        assert!(e.0.contains("holds a mapping"), "{}", e.0);
    }

    #[test]
    fn secret_text_is_double_quoted_exactly() {
        for v in ["a: #b", "tab\there", "line\nbreak", "\u{7f}\u{85}\u{2028}é🚀", "\"'\\", "  ", ""] {
            let (_, new) = sync("values: {}\n", &[key("k", v, None)], false);
            let doc = parse(&new.unwrap()).unwrap();
            assert_eq!(doc["values"]["k"]["fn::secret"].as_str(), Some(v), "{v:?}");
        }
    }
}
