//! The JSON Schema editors use agrees with the examples, and rejects what the
//! tool rejects for the same structural reasons.

use crate::harness::repo;

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo().join("schema/secret-sync.schema.json")).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn yaml_as_json(path: &str) -> serde_json::Value {
    let v: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(repo().join(path)).unwrap()).unwrap();
    serde_json::to_value(v).unwrap()
}

#[test]
fn examples_validate_against_the_schema() {
    let v = validator();
    for path in ["examples/sophia/secret-sync.yml", "examples/minimal/secret-sync.yml"] {
        let doc = yaml_as_json(path);
        let errors: Vec<String> = v.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{path}: {errors:?}");
        let first = std::fs::read_to_string(repo().join(path)).unwrap();
        assert!(first.starts_with("# yaml-language-server: $schema="), "{path} does not point editors at the schema");
    }
}

#[test]
fn schema_rejects_structural_mistakes() {
    let v = validator();
    for path in [
        "tests/corpus/manifests/09-version-2.yml",
        "tests/corpus/manifests/13-unknown-top-level-key.yml",
        "tests/corpus/manifests/14-unknown-secret-field.yml",
        "tests/corpus/manifests/15-bad-duration.yml",
        "tests/corpus/manifests/24-unknown-format.yml",
        "tests/corpus/manifests/26-to-two-kinds.yml",
        "tests/corpus/manifests/40-bad-deploy-mode.yml",
    ] {
        assert!(!v.is_valid(&yaml_as_json(path)), "{path} passes the schema");
    }
}

/// The schema and the loader accept the same keys for every kind's
/// targets: the loader's are the kind's `Section::keys`, the schema's the
/// properties of `$defs/<kind>Target` (GitHub's org and repository forms
/// together), and the schema lists exactly the registry's kinds.
#[test]
fn the_schema_and_the_loader_accept_the_same_target_keys() {
    let text = std::fs::read_to_string(repo().join("schema/secret-sync.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let kinds: std::collections::BTreeSet<String> =
        schema["properties"]["targets"]["properties"].as_object().unwrap().keys().cloned().collect();
    let registry: std::collections::BTreeSet<String> =
        secret_sync::targets::SECTIONS.iter().map(|s| s.kind().to_string()).collect();
    assert_eq!(kinds, registry, "the schema's target kinds are the registry's");
    for section in secret_sync::targets::SECTIONS {
        let kind = section.kind().to_string();
        let def = &schema["$defs"][format!("{kind}Target")];
        let mut props: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        let mut collect = |v: &serde_json::Value| {
            props.extend(v["properties"].as_object().into_iter().flat_map(|o| o.keys().cloned()));
        };
        collect(def);
        for alt in def["oneOf"].as_array().into_iter().flatten().chain(def["anyOf"].as_array().into_iter().flatten()) {
            collect(alt);
        }
        let loader: std::collections::BTreeSet<String> = section.keys().iter().map(|k| k.to_string()).collect();
        assert_eq!(props, loader, "`targets.{kind}`: schema (left) and loader (right) differ");
    }
}
