//! Editing an ESC environment definition: only the paths the manifest routes
//! (and their `environmentVariables` entries) are touched; `imports`, other
//! `values`, other top-level keys and key order are kept as they are.
//!
//! The definition is edited as a YAML tree and written back whole (ESC's
//! update takes the full definition). A YAML tree drops comments, so a
//! definition that has them gets a warning before it is rewritten.

use secrecy::ExposeSecret;
use serde_yaml::{Mapping, Value};

use crate::targets::{Action, Change, DesiredKey};

/// Where secret-sync records the paths it wrote, so pruning can tell its own
/// keys from everyone else's.
pub const MARKER: &str = "secretSyncManaged";
const ENV_VARS: &str = "environmentVariables";
const SECRET: &str = "fn::secret";

/// The result of diffing one definition against the desired keys.
#[derive(Debug)]
pub struct Edit {
    pub changes: Vec<Change>,
    /// Secret paths in the definition the manifest does not route.
    pub unrouted: Vec<String>,
    /// The new definition, when something changed.
    pub new_text: Option<String>,
    pub deletes: usize,
}

/// A path the manifest routes collides with something secret-sync must not
/// overwrite.
#[derive(Debug, PartialEq, Eq)]
pub struct Collision(pub String);

pub fn parse(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Mapping(Mapping::new()));
    }
    match serde_yaml::from_str::<Value>(text) {
        Ok(Value::Null) => Ok(Value::Mapping(Mapping::new())),
        Ok(v @ Value::Mapping(_)) => Ok(v),
        Ok(_) => Err("the definition is not a YAML mapping".into()),
        // serde_yaml's messages can quote the text (which holds decrypted
        // values): keep only the position.
        Err(e) => Err(match e.location() {
            Some(l) => format!("the definition is not valid YAML (line {}, column {})", l.line(), l.column()),
            None => "the definition is not valid YAML".into(),
        }),
    }
}

/// Does the text appear to carry comments a rewrite would drop?
pub fn has_comments(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim_start();
        t.starts_with('#') || (!l.contains('"') && !l.contains('\'') && l.contains(" #"))
    })
}

/// Diffs `doc` (a decrypted definition) against `desired` and builds the new
/// definition. With `prune`, keys recorded in the marker that the manifest no
/// longer routes are deleted.
pub fn edit(mut doc: Value, desired: &[DesiredKey], prune: bool) -> Result<Edit, Collision> {
    let root = doc.as_mapping_mut().expect("parse() returns a mapping");
    let values = child_mapping(root, "values").map_err(|_| Collision("`values` is not a mapping".into()))?;
    let mut changes = Vec::new();

    let (owned_paths, owned_vars) = read_marker(values);
    let mut unrouted = Vec::new();
    secret_paths(values, "", &mut unrouted);
    unrouted.retain(|p| !desired.iter().any(|k| k.key == *p));
    for k in desired {
        let want = k.value.expose_secret();
        let action = match get(values, &k.key) {
            Lookup::Absent => Action::Create,
            Lookup::Found(v) => match secret_text(v) {
                Some(Some(have)) if have == want => Action::Unchanged,
                Some(_) => Action::Update,
                None if v.is_string() => Action::Update,
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
            set(values, &k.key, secret_value(want)).map_err(Collision)?;
        }
        changes.push(Change { key: k.key.clone(), action });
        if let Some(var) = &k.env_var {
            let reference = format!("${{{}}}", k.key);
            let vars = child_mapping(values, ENV_VARS)
                .map_err(|_| Collision("`values.environmentVariables` is not a mapping".into()))?;
            let action = match vars.get(var.as_str()) {
                None => Action::Create,
                Some(Value::String(s)) if *s == reference => Action::Unchanged,
                Some(_) => Action::Update,
            };
            if action != Action::Unchanged {
                vars.insert(Value::String(var.clone()), Value::String(reference));
            }
            changes.push(Change { key: format!("{ENV_VARS}.{var}"), action });
        }
    }

    let routed: Vec<&str> = desired.iter().map(|k| k.key.as_str()).collect();
    let routed_vars: Vec<&str> = desired.iter().filter_map(|k| k.env_var.as_deref()).collect();
    let mut deletes = 0;
    let mut still_owned: Vec<String> = Vec::new();
    let mut still_owned_vars: Vec<String> = Vec::new();
    for p in owned_paths.iter().filter(|p| !routed.contains(&p.as_str())) {
        if !matches!(get(values, p), Lookup::Found(_)) {
            continue; // gone already: forget it
        }
        if prune {
            remove(values, p);
            changes.push(Change { key: p.clone(), action: Action::Delete });
            deletes += 1;
        } else {
            still_owned.push(p.clone());
        }
    }
    for v in owned_vars.iter().filter(|v| !routed_vars.contains(&v.as_str())) {
        let present = values.get(ENV_VARS).and_then(Value::as_mapping).is_some_and(|m| m.contains_key(v.as_str()));
        if !present {
            continue;
        }
        if prune {
            if let Some(Value::Mapping(m)) = values.get_mut(ENV_VARS) {
                m.remove(v.as_str());
            }
            changes.push(Change { key: format!("{ENV_VARS}.{v}"), action: Action::Delete });
            deletes += 1;
        } else {
            still_owned_vars.push(v.clone());
        }
    }
    if values.get(ENV_VARS).and_then(Value::as_mapping).is_some_and(Mapping::is_empty) {
        values.remove(ENV_VARS);
    }

    let changed = changes.iter().any(|c| c.action != Action::Unchanged);
    if !changed {
        return Ok(Edit { changes, unrouted, new_text: None, deletes });
    }
    let mut paths: Vec<String> = routed.iter().map(|s| s.to_string()).chain(still_owned).collect();
    let mut vars: Vec<String> = routed_vars.iter().map(|s| s.to_string()).chain(still_owned_vars).collect();
    paths.sort();
    paths.dedup();
    vars.sort();
    vars.dedup();
    write_marker(values, paths, vars);
    let text = serde_yaml::to_string(&doc).expect("a YAML tree serialises");
    Ok(Edit { changes, unrouted, new_text: Some(text), deletes })
}

/// Dotted paths of every `fn::secret` under `values` (outside the marker
/// and `environmentVariables`).
fn secret_paths(m: &Mapping, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in m {
        let Some(k) = k.as_str() else { continue };
        if prefix.is_empty() && (k == MARKER || k == ENV_VARS) {
            continue;
        }
        let path = if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
        match v {
            v if secret_text(v).is_some() => out.push(path),
            Value::Mapping(inner) => secret_paths(inner, &path, out),
            _ => {}
        }
    }
}

fn secret_value(v: &str) -> Value {
    let mut m = Mapping::new();
    m.insert(Value::String(SECRET.into()), Value::String(v.into()));
    Value::Mapping(m)
}

/// `Some(Some(text))` for a decrypted `fn::secret`, `Some(None)` for a secret
/// whose text is not visible, `None` for anything else.
fn secret_text(v: &Value) -> Option<Option<&str>> {
    let m = v.as_mapping()?;
    if m.len() != 1 {
        return None;
    }
    match m.get(SECRET)? {
        Value::String(s) => Some(Some(s)),
        _ => Some(None),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Mapping(_) => "mapping",
        Value::Sequence(_) => "list",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        _ => "value",
    }
}

fn child_mapping<'a>(m: &'a mut Mapping, key: &str) -> Result<&'a mut Mapping, ()> {
    if !m.contains_key(key) {
        m.insert(Value::String(key.into()), Value::Mapping(Mapping::new()));
    }
    match m.get_mut(key) {
        Some(Value::Mapping(c)) => Ok(c),
        Some(v @ Value::Null) => {
            *v = Value::Mapping(Mapping::new());
            Ok(v.as_mapping_mut().expect("just set"))
        }
        _ => Err(()),
    }
}

enum Lookup<'a> {
    Absent,
    Found(&'a Value),
    /// A prefix of the path holds a non-mapping value.
    Blocked(String),
}

fn get<'a>(values: &'a Mapping, path: &str) -> Lookup<'a> {
    let segs: Vec<&str> = path.split('.').collect();
    let mut cur = values;
    for (i, s) in segs.iter().enumerate() {
        match cur.get(*s) {
            None => return Lookup::Absent,
            Some(v) if i + 1 == segs.len() => return Lookup::Found(v),
            Some(v @ Value::Mapping(m)) if secret_text(v).is_none() => cur = m,
            Some(_) => return Lookup::Blocked(segs[..=i].join(".")),
        }
    }
    Lookup::Absent
}

fn set(values: &mut Mapping, path: &str, v: Value) -> Result<(), String> {
    let segs: Vec<&str> = path.split('.').collect();
    let mut cur = values;
    for s in &segs[..segs.len() - 1] {
        cur =
            child_mapping(cur, s).map_err(|_| format!("`values.{path}` cannot be written: `{s}` is not a mapping"))?;
    }
    cur.insert(Value::String(segs[segs.len() - 1].into()), v);
    Ok(())
}

fn remove(values: &mut Mapping, path: &str) {
    let segs: Vec<&str> = path.split('.').collect();
    let mut cur = values;
    for s in &segs[..segs.len() - 1] {
        match cur.get_mut(*s) {
            Some(Value::Mapping(m)) => cur = m,
            _ => return,
        }
    }
    cur.remove(segs[segs.len() - 1]);
}

fn read_marker(values: &Mapping) -> (Vec<String>, Vec<String>) {
    let list = |k: &str| -> Vec<String> {
        values
            .get(MARKER)
            .and_then(|m| m.get(k))
            .and_then(Value::as_sequence)
            .map(|s| s.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    (list("paths"), list(ENV_VARS))
}

fn write_marker(values: &mut Mapping, paths: Vec<String>, vars: Vec<String>) {
    let mut m = Mapping::new();
    m.insert("paths".into(), Value::Sequence(paths.into_iter().map(Value::String).collect()));
    if !vars.is_empty() {
        m.insert(ENV_VARS.into(), Value::Sequence(vars.into_iter().map(Value::String).collect()));
    }
    values.insert(MARKER.into(), Value::Mapping(m));
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

    const DEF: &str = "imports:\n  - base\nvalues:\n  region: us-east-1\n  openai:\n    apiKey:\n      fn::secret: old\n  other: kept\nextra: 1\n";

    #[test]
    fn edits_only_managed_paths_and_keeps_the_rest() {
        let e = edit(
            parse(DEF).unwrap(),
            &[key("openai.apiKey", "new", Some("OPENAI_API_KEY")), key("slack.token", "t", None)],
            false,
        )
        .unwrap();
        let actions: Vec<_> = e.changes.iter().map(|c| (c.key.as_str(), c.action)).collect();
        assert_eq!(
            actions,
            [
                ("openai.apiKey", Action::Update),
                ("environmentVariables.OPENAI_API_KEY", Action::Create),
                ("slack.token", Action::Create)
            ]
        );
        let new: Value = serde_yaml::from_str(e.new_text.as_deref().unwrap()).unwrap();
        assert_eq!(new["imports"], parse(DEF).unwrap()["imports"]);
        assert_eq!(new["extra"], Value::from(1));
        assert_eq!(new["values"]["region"], Value::from("us-east-1"));
        assert_eq!(new["values"]["other"], Value::from("kept"));
        assert_eq!(new["values"]["openai"]["apiKey"]["fn::secret"], Value::from("new"));
        assert_eq!(new["values"]["environmentVariables"]["OPENAI_API_KEY"], Value::from("${openai.apiKey}"));
        let keys: Vec<_> = new.as_mapping().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
        assert_eq!(keys, ["imports", "values", "extra"]);
    }

    #[test]
    fn unchanged_means_no_new_text() {
        let e = edit(parse(DEF).unwrap(), &[key("openai.apiKey", "old", None)], false).unwrap();
        assert!(e.new_text.is_none());
        assert_eq!(e.changes[0].action, Action::Unchanged);
    }

    #[test]
    fn prunes_only_owned_keys() {
        let first = edit(parse(DEF).unwrap(), &[key("a.b", "1", None), key("c", "2", Some("C"))], false).unwrap();
        let doc = parse(first.new_text.as_deref().unwrap()).unwrap();
        // `c` is no longer routed: kept without prune, deleted with it;
        // `region` (never owned) survives both.
        let kept = edit(doc.clone(), &[key("a.b", "1", None)], false).unwrap();
        assert!(kept.new_text.is_none());
        let pruned = edit(doc, &[key("a.b", "1", None)], true).unwrap();
        assert_eq!(pruned.deletes, 2);
        let new = parse(pruned.new_text.as_deref().unwrap()).unwrap();
        assert!(new["values"].get("c").is_none());
        assert!(new["values"].get("environmentVariables").is_none());
        assert_eq!(new["values"]["region"], Value::from("us-east-1"));
    }

    #[test]
    fn refuses_to_overwrite_unmanaged_structure() {
        let e = edit(parse(DEF).unwrap(), &[key("region.name", "x", None)], false);
        assert!(e.is_err());
        let e = edit(parse(DEF).unwrap(), &[key("openai", "x", None)], false);
        assert!(e.unwrap_err().0.contains("holds a mapping"));
    }

    #[test]
    fn spots_comments() {
        assert!(has_comments("# top\nvalues: {}\n"));
        assert!(has_comments("values:\n  a: 1 # why\n"));
        assert!(!has_comments("values:\n  a: \"x #y\"\n"));
    }
}
