//! The shape docs/architecture.md describes (the diagram and the Layout section):
//! no import cycle between the top-level modules of `src/`, and nothing but
//! the wiring (`run`, `publish`, and `merge`, which wires `merge-reports`) imports the
//! report. Read from the source text: `crate::<module>` paths outside
//! comments and test modules.

use std::collections::{BTreeMap, BTreeSet};

use crate::harness::repo;

fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let src = repo().join("src");
    let mut stack = vec![src.clone()];
    let word = regex::Regex::new(r"crate::([a-z_]+)").unwrap();
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
            let top = rel.split('/').next().unwrap().trim_end_matches(".rs").to_string();
            if top == "lib" || top == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for c in word.captures_iter(line) {
                    if c[1] != top {
                        edges.entry(top.clone()).or_default().insert(c[1].to_string());
                    }
                }
            }
        }
    }
    edges
}

#[test]
fn no_module_cycles_and_only_the_wiring_imports_the_report() {
    let edges = imports();
    assert!(edges.contains_key("run") && edges["run"].contains("report"), "the reader found the imports");
    // Depth-first search for a back edge.
    fn visit<'a>(
        n: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, bool>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(n, true);
        path.push(n);
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m.as_str()) {
                Some(true) => {
                    let at = path.iter().position(|p| *p == m).unwrap();
                    return Some(path[at..].iter().map(|s| s.to_string()).chain([m.clone()]).collect());
                }
                Some(false) => {}
                None => {
                    if let Some(c) = visit(m, edges, state, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        state.insert(n, false);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if !state.contains_key(n.as_str()) {
            if let Some(cycle) = visit(n, &edges, &mut state, &mut Vec::new()) {
                panic!("import cycle: {}", cycle.join(" → "));
            }
        }
    }
    let importers: Vec<&String> = edges.iter().filter(|(_, to)| to.contains("report")).map(|(from, _)| from).collect();
    assert_eq!(importers, ["merge", "publish", "run"], "only the wiring imports the report");
}
