//! Editing the manifest's text in place (for `add-app`): new lines are
//! inserted and single values rewritten at positions found by the parser, so
//! comments, blank lines and key order stay exactly as the user wrote them.
//! Works on block-style YAML, which manifests are; a part written in flow
//! style (`{ … }`) that needs changing is refused with a message.

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::{LoaderOptions, Node};

/// Why the manifest cannot be edited; each says what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum ManifestEditError {
    #[error("the manifest cannot be parsed: {0}")]
    Unparsable(#[source] marked_yaml::LoadError),
    /// `what` is `the manifest`, `` `targets` `` or `` `targets.fly` ``.
    #[error("{what} is not a mapping")]
    NotAMapping { what: &'static str },
    #[error("a Fly target named `{name}` already exists")]
    TargetExists { name: String },
    #[error("the manifest has no `secrets:` mapping")]
    NoSecrets,
    #[error("secret `{secret}` is not declared in the manifest")]
    Undeclared { secret: String },
    #[error("`targets.fly` is written in flow style (`{{ … }}`); add the app by hand or write it in block style")]
    FlyInFlowStyle,
    #[error("secret `{secret}` is not written as a mapping; route it by hand")]
    SecretNotAMapping { secret: String },
    #[error("secret `{secret}` is written in flow style (`{{ … }}`); route it by hand")]
    SecretInFlowStyle { secret: String },
    #[error("`to` of secret `{secret}` is not a list; route it by hand")]
    ToNotAList { secret: String },
    #[error("`to` of secret `{secret}` is written in flow style; route it by hand")]
    ToInFlowStyle { secret: String },
    #[error("`to` of secret `{secret}` is empty; route it by hand")]
    ToEmpty { secret: String },
    #[error("the `fly:` route of secret `{secret}` is quoted; route it by hand")]
    RouteQuoted { secret: String },
    #[error("the `fly:` route of secret `{secret}` is not a name or a list; route it by hand")]
    RouteShape { secret: String },
    /// What the parser gave is not what it promises (a node without a
    /// position, a block list without items).
    #[error("{0}")]
    Unexpected(&'static str),
}

/// What to add: a Fly app target and the secrets routed to it.
pub struct AddApp<'a> {
    pub name: &'a str,
    pub app: &'a str,
    pub environment: Option<&'a str>,
    pub deploy: Option<&'a str>,
    pub secrets: &'a [String],
}

/// Returns the edited text, or why it cannot be edited.
pub fn add_fly_app(text: &str, req: &AddApp) -> Result<String, ManifestEditError> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let root = parse(text)?;
    let top = root.as_mapping().ok_or(ManifestEditError::NotAMapping { what: "the manifest" })?;
    if top
        .get_node("targets")
        .and_then(|t| t.as_mapping())
        .and_then(|t| t.get_node("fly"))
        .and_then(|f| f.as_mapping())
        .is_some_and(|f| f.get_node(req.name).is_some())
    {
        return Err(ManifestEditError::TargetExists { name: req.name.to_string() });
    }

    // Secrets first (they are below the targets in most manifests, and
    // editing bottom-up keeps earlier line numbers valid).
    let secrets = top.get_mapping("secrets").ok_or(ManifestEditError::NoSecrets)?;
    let mut edits: Vec<Edit> = Vec::new();
    for s in req.secrets {
        let (key, node) = secrets
            .iter()
            .find(|(k, _)| k.as_str() == s)
            .ok_or_else(|| ManifestEditError::Undeclared { secret: s.clone() })?;
        let key_line = line_of(key.span().start());
        let indent = indent_of(&lines[key_line]);
        edits.push(route_edit(&lines, key_line, indent, node, req.name, s)?);
    }

    let target = target_line(req);
    match top.get_node("targets") {
        None => {
            let at = top
                .iter()
                .find(|(k, _)| k.as_str() == "secrets")
                .map(|(k, _)| back_over_comments(&lines, line_of(k.span().start()), 0))
                .unwrap_or(lines.len());
            edits.push(Edit::Insert(
                at,
                vec!["targets:".into(), "  fly:".into(), format!("    {target}"), String::new()],
            ));
        }
        Some(Node::Mapping(t)) => {
            let (tkey, _) = top.iter().find(|(k, _)| k.as_str() == "targets").expect("present");
            let tline = line_of(tkey.span().start());
            match t.iter().find(|(k, _)| k.as_str() == "fly") {
                None => {
                    let child = child_indent(t).unwrap_or(2);
                    let end = block_end(&lines, tline, 0);
                    edits.push(Edit::Insert(
                        end,
                        vec![format!("{}fly:", " ".repeat(child)), format!("{}{target}", " ".repeat(child + 2))],
                    ));
                }
                Some((fkey, Node::Mapping(f))) => {
                    let fline = line_of(fkey.span().start());
                    if f.is_empty() || lines[fline].contains('{') {
                        return Err(ManifestEditError::FlyInFlowStyle);
                    }
                    let child = child_indent(f).unwrap_or(indent_of(&lines[fline]) + 2);
                    let end = block_end(&lines, fline, indent_of(&lines[fline]));
                    edits.push(Edit::Insert(end, vec![format!("{}{target}", " ".repeat(child))]));
                }
                Some(_) => return Err(ManifestEditError::NotAMapping { what: "`targets.fly`" }),
            }
        }
        Some(_) => return Err(ManifestEditError::NotAMapping { what: "`targets`" }),
    }

    // Apply from the bottom up so positions stay valid.
    edits.sort_by_key(|e| std::cmp::Reverse(e.line()));
    for e in edits {
        match e {
            Edit::Insert(at, new) => {
                for (i, l) in new.into_iter().enumerate() {
                    lines.insert(at + i, l);
                }
            }
            Edit::Replace(at, l) => lines[at] = l,
            Edit::Nothing => {}
        }
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

enum Edit {
    Insert(usize, Vec<String>),
    Replace(usize, String),
    Nothing,
}

impl Edit {
    fn line(&self) -> usize {
        match self {
            Edit::Insert(l, _) | Edit::Replace(l, _) => *l,
            Edit::Nothing => 0,
        }
    }
}

fn parse(text: &str) -> Result<Node, ManifestEditError> {
    marked_yaml::parse_yaml_with_options(0, text, LoaderOptions::default().error_on_duplicate_keys(true))
        .map_err(ManifestEditError::Unparsable)
}

fn target_line(req: &AddApp) -> String {
    let mut parts = Vec::new();
    if let Some(e) = req.environment {
        parts.push(format!("environment: {e}"));
    }
    parts.push(format!("app: {}", req.app));
    if let Some(d) = req.deploy {
        parts.push(format!("deploy: {d}"));
    }
    format!("{}: {{ {} }}", req.name, parts.join(", "))
}

/// How to route secret `s` (declared at `key_line`) to Fly target `target`.
fn route_edit(
    lines: &[String],
    key_line: usize,
    indent: usize,
    node: &Node,
    target: &str,
    s: &str,
) -> Result<Edit, ManifestEditError> {
    let secret = || s.to_string();
    let Some(map) = node.as_mapping() else {
        return Err(ManifestEditError::SecretNotAMapping { secret: secret() });
    };
    if lines[key_line].contains('{') {
        return Err(ManifestEditError::SecretInFlowStyle { secret: secret() });
    }
    let child = child_indent(map).unwrap_or(indent + 2);
    let Some((to_key, to)) = map.iter().find(|(k, _)| k.as_str() == "to") else {
        let end = block_end(lines, key_line, indent);
        let pad = " ".repeat(child);
        return Ok(Edit::Insert(end, vec![format!("{pad}to:"), format!("{pad}  - fly: [{target}]")]));
    };
    let Node::Sequence(seq) = to else { return Err(ManifestEditError::ToNotAList { secret: secret() }) };
    let to_line = line_of(to_key.span().start());
    if lines[to_line].contains('[') {
        return Err(ManifestEditError::ToInFlowStyle { secret: secret() });
    }
    for entry in seq.iter() {
        let Some(e) = entry.as_mapping() else { continue };
        let Some((fkey, fval)) = e.iter().find(|(k, _)| k.as_str() == "fly") else { continue };
        let line = line_of(fkey.span().start());
        return match fval {
            Node::Scalar(v) if v.as_str() == target => Ok(Edit::Nothing),
            Node::Scalar(v) => {
                let col =
                    v.span().start().map(|m| m.column() - 1).ok_or(ManifestEditError::Unexpected("no position"))?;
                let l = &lines[line];
                let rest = &l[col..];
                let len = v.as_str().len();
                if !rest.starts_with(v.as_str()) {
                    return Err(ManifestEditError::RouteQuoted { secret: secret() });
                }
                Ok(Edit::Replace(line, format!("{}[{}, {target}]{}", &l[..col], v.as_str(), &l[col + len..])))
            }
            Node::Sequence(items) => {
                if items.iter().any(|i| i.as_scalar().is_some_and(|x| x.as_str() == target)) {
                    return Ok(Edit::Nothing);
                }
                let l = &lines[line];
                match (l.find('['), l.rfind(']')) {
                    (Some(_), Some(close)) => {
                        Ok(Edit::Replace(line, format!("{}, {target}{}", l[..close].trim_end(), &l[close..])))
                    }
                    _ => {
                        // A block list: a new item after the last one.
                        let last = items.iter().last().ok_or(ManifestEditError::Unexpected("empty list"))?;
                        let last_line = line_of(last.span().start());
                        let pad = " ".repeat(indent_of(&lines[last_line]));
                        Ok(Edit::Insert(last_line + 1, vec![format!("{pad}- {target}")]))
                    }
                }
            }
            _ => Err(ManifestEditError::RouteShape { secret: secret() }),
        };
    }
    // No Fly entry yet: a new entry after the last one, at the same dash column.
    let last = seq.iter().last().ok_or_else(|| ManifestEditError::ToEmpty { secret: secret() })?;
    let first_line = line_of(last.span().start());
    let dash = lines[first_line].find('-').unwrap_or(indent_of(&lines[first_line]));
    let end = block_end(lines, first_line, dash);
    Ok(Edit::Insert(end, vec![format!("{}- fly: [{target}]", " ".repeat(dash))]))
}

/// 0-based line of a marker.
fn line_of(m: Option<&marked_yaml::Marker>) -> usize {
    m.map(|m| m.line().saturating_sub(1)).unwrap_or(0)
}

fn indent_of(l: &str) -> usize {
    l.len() - l.trim_start().len()
}

/// The column at which a block mapping's keys start.
fn child_indent(m: &MarkedMappingNode) -> Option<usize> {
    m.iter().next().and_then(|(k, _)| k.span().start()).map(|s| s.column() - 1)
}

fn is_blank_or_comment(l: &str) -> bool {
    let t = l.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// The line after the block that starts at `start` (a key or list item at
/// `indent`): the next content line indented no deeper, moved up over blank
/// lines and the comments that introduce what follows.
fn block_end(lines: &[String], start: usize, indent: usize) -> usize {
    let mut j = start + 1;
    while j < lines.len() && (is_blank_or_comment(&lines[j]) || indent_of(&lines[j]) > indent) {
        j += 1;
    }
    back_over_comments(lines, j, indent)
}

fn back_over_comments(lines: &[String], mut j: usize, indent: usize) -> usize {
    while j > 0
        && is_blank_or_comment(&lines[j - 1])
        && (lines[j - 1].trim().is_empty() || indent_of(&lines[j - 1]) <= indent)
    {
        j -= 1;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_style_is_refused_with_what_to_do() {
        let req = |secrets| AddApp { name: "w", app: "x", environment: None, deploy: None, secrets };
        let err = add_fly_app("targets:\n  fly: { a: { app: a } }\nsecrets: {}\n", &req(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`targets.fly` is written in flow style (`{ … }`); add the app by hand or write it in block style"
        );
        let err = add_fly_app("secrets:\n  A: { to: [] }\n", &req(&["A".into()])).unwrap_err();
        assert_eq!(err.to_string(), "secret `A` is written in flow style (`{ … }`); route it by hand");
    }

    const TEXT: &str = "version: 1\n# targets\ntargets:\n  fly:\n    api:  # the api\n      app: my-api\n\n# all secrets\nsecrets:\n  A:\n    to:\n      - fly: api   # keep\n  B:\n    to:\n      - fly: [api]\n  C:\n    description: x\n\n  D:\n    to:\n      - esc: prod\n        path: d\n";

    fn add(secrets: &[&str]) -> String {
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        add_fly_app(TEXT, &AddApp { name: "web", app: "my-web", environment: None, deploy: None, secrets: &secrets })
            .unwrap()
    }

    #[test]
    fn routes_each_shape_and_keeps_every_line() {
        let out = add(&["A", "B", "C", "D"]);
        let expected = "version: 1\n# targets\ntargets:\n  fly:\n    api:  # the api\n      app: my-api\n    web: { app: my-web }\n\n# all secrets\nsecrets:\n  A:\n    to:\n      - fly: [api, web]   # keep\n  B:\n    to:\n      - fly: [api, web]\n  C:\n    description: x\n    to:\n      - fly: [web]\n\n  D:\n    to:\n      - esc: prod\n        path: d\n      - fly: [web]\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn refuses_unknown_secrets_and_duplicates() {
        let err = add_fly_app(TEXT, &AddApp { name: "api", app: "x", environment: None, deploy: None, secrets: &[] })
            .unwrap_err()
            .to_string();
        assert!(err.contains("already exists"));
        let err =
            add_fly_app(TEXT, &AddApp { name: "w", app: "x", environment: None, deploy: None, secrets: &["Z".into()] })
                .unwrap_err()
                .to_string();
        assert!(err.contains("`Z` is not declared"));
    }
}
