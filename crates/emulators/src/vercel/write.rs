//! Vercel env writes: the create-or-update route (one object or an array)
//! and the edit by id, with the body rules they share
//! (docs/service-facts.md "Vercel", Env vars; the shapes in
//! docs/targets/vercel-research.md §2).

use serde_json::{json, Value as Json};

use super::{env_json, error, EnvVar, Reply, Req, Vercel};

const TYPES: [&str; 4] = ["system", "encrypted", "plain", "sensitive"];
const TARGETS: [&str; 3] = ["production", "preview", "development"];

/// One body item, checked against the SDK's request schema
/// (docs/targets/vercel-research.md §2): `key`, `value`, `type` required,
/// `target` or `customEnvironmentIds`, closed enums; unknown fields ignored.
struct Item {
    key: String,
    value: String,
    kind: String,
    target: Vec<String>,
    git_branch: Option<String>,
    custom: Vec<String>,
    comment: Option<String>,
}

fn strings(v: &Json, field: &str, i: usize) -> Result<Vec<String>, Reply> {
    match v {
        Json::Null => Ok(Vec::new()),
        Json::String(s) => Ok(vec![s.clone()]),
        Json::Array(a) if a.iter().all(Json::is_string) => {
            Ok(a.iter().filter_map(Json::as_str).map(str::to_string).collect())
        }
        _ => Err(bad(&format!("body[{i}].{field} must be an array of strings"))),
    }
}

fn bad(message: &str) -> Reply {
    error(400, "bad_request", &format!("Invalid request: {message}"))
}

fn item(j: &Json, i: usize) -> Result<Item, Reply> {
    let s = |f: &str| j[f].as_str().map(str::to_string);
    let key =
        s("key").filter(|k| !k.is_empty()).ok_or_else(|| bad(&format!("body[{i}] missing required property `key`")))?;
    let value = s("value").ok_or_else(|| bad(&format!("body[{i}] missing required property `value`")))?;
    let kind = s("type").ok_or_else(|| bad(&format!("body[{i}] missing required property `type`")))?;
    if !TYPES.contains(&kind.as_str()) {
        return Err(bad(&format!("body[{i}].type must be one of {}", TYPES.join(", "))));
    }
    let target = strings(&j["target"], "target", i)?;
    if let Some(t) = target.iter().find(|t| !TARGETS.contains(&t.as_str())) {
        return Err(bad(&format!("body[{i}].target `{t}` must be one of {}", TARGETS.join(", "))));
    }
    let custom = strings(&j["customEnvironmentIds"], "customEnvironmentIds", i)?;
    if target.is_empty() && custom.is_empty() {
        return Err(error(
            400,
            "MISSING_TARGET",
            &format!("body[{i}]: `target` or `customEnvironmentIds` is required"),
        ));
    }
    let git_branch = s("gitBranch").filter(|b| !b.is_empty());
    let comment = s("comment");
    let it = Item { key, value, kind, target, git_branch, custom, comment };
    rules(&it.kind, &it.target, it.git_branch.as_deref(), i)?;
    Ok(it)
}

/// Rules beyond the schema: a git branch needs `target: ["preview"]` (REST
/// reference, `gitBranch`); `sensitive` may not include development (docs
/// "Sensitive environment variables" 2025; UNCONFIRMED today, so refused).
fn rules(kind: &str, target: &[String], branch: Option<&str>, i: usize) -> Result<(), Reply> {
    if branch.is_some() && target != ["preview"] {
        return Err(bad(&format!("body[{i}].gitBranch must have target=preview")));
    }
    if kind == "sensitive" && target.iter().any(|t| t == "development") {
        return Err(bad(&format!("body[{i}]: sensitive environment variables cannot target development")));
    }
    Ok(())
}

/// Vercel's key rule (the CLI's `KEY_INVALID_CHARACTERS`): letters, digits
/// and `_`, not starting with a digit.
fn key_ok(k: &str) -> bool {
    k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !k.starts_with(|c: char| c.is_ascii_digit())
}

fn failed(code: &str, message: &str, it: &Item) -> Json {
    json!({ "error": { "code": code, "message": message, "key": it.key, "envVarKey": it.key, "target": it.target,
        "gitBranch": it.git_branch } })
}

pub(super) fn upsert(v: &mut Vercel, pi: usize, r: &Req, now: u64) -> Reply {
    let Ok(body) = serde_json::from_slice::<Json>(r.body) else {
        return bad("body must be JSON");
    };
    let (raw, many) = match &body {
        Json::Array(a) => (a.clone(), true),
        Json::Object(_) => (vec![body.clone()], false),
        _ => return bad("body must be an object or an array"),
    };
    if raw.is_empty() {
        return bad("body must not be empty");
    }
    if v.max_keys_per_request.is_some_and(|m| raw.len() > m) {
        return error(
            400,
            "TOO_MANY_KEYS",
            &format!("You can add at most {} keys at once", v.max_keys_per_request.unwrap_or(0)),
        );
    }
    // The whole body is checked before anything is stored.
    let items = match raw.iter().enumerate().map(|(i, j)| item(j, i)).collect::<Result<Vec<_>, _>>() {
        Ok(i) => i,
        Err(reply) => return reply,
    };
    let upsert = r.query_param("upsert").as_deref() == Some("true");
    let (mut created, mut fails) = (Vec::new(), Vec::new());
    for it in items {
        if !key_ok(&it.key) {
            fails.push(failed(
                "KEY_INVALID_CHARACTERS",
                "The name of your Environment Variable contains invalid characters",
                &it,
            ));
            continue;
        }
        let same_place = |e: &EnvVar| e.key == it.key && e.git_branch == it.git_branch;
        let overlaps = |e: &EnvVar| {
            e.target.iter().any(|t| it.target.contains(t))
                || e.custom_environment_ids.iter().any(|c| it.custom.contains(c))
        };
        let mut tset = it.target.clone();
        tset.sort();
        let envs = &v.projects[pi].envs;
        let exact = envs.iter().position(|e| {
            let mut t = e.target.clone();
            t.sort();
            same_place(e) && t == tset && e.custom_environment_ids == it.custom
        });
        let clash = envs.iter().any(|e| same_place(e) && overlaps(e));
        match (exact, upsert) {
            (Some(i), true) => {
                let e = &mut v.projects[pi].envs[i];
                e.value = it.value.clone();
                e.kind = it.kind.clone();
                if it.comment.is_some() {
                    e.comment = it.comment.clone();
                }
                e.updated_at = now;
                e.revision += 1;
                created.push(env_json(e));
            }
            (Some(_), false) => fails.push(failed(
                "ENV_ALREADY_EXISTS",
                &format!("A variable with the name `{}` already exists for the target", it.key),
                &it,
            )),
            (None, _) if clash => fails.push(failed(
                "ENV_CONFLICT",
                &format!("A variable with the name `{}` already exists for an overlapping target", it.key),
                &it,
            )),
            (None, _) => {
                let id = v.id("env_");
                let e = EnvVar {
                    id,
                    key: it.key.clone(),
                    value: it.value.clone(),
                    kind: it.kind.clone(),
                    target: it.target.clone(),
                    git_branch: it.git_branch.clone(),
                    custom_environment_ids: it.custom.clone(),
                    comment: it.comment.clone(),
                    created_at: now,
                    updated_at: now,
                    revision: 1,
                };
                created.push(env_json(&e));
                v.projects[pi].envs.push(e);
            }
        }
    }
    let created = if many { Json::Array(created) } else { created.into_iter().next().unwrap_or_else(|| json!([])) };
    Reply::json(201, json!({ "created": created, "failed": fails }))
}

pub(super) fn edit(v: &mut Vercel, pi: usize, id: &str, r: &Req, now: u64) -> Reply {
    let Ok(body) = serde_json::from_slice::<Json>(r.body) else {
        return bad("body must be JSON");
    };
    let Some(i) = v.projects[pi].envs.iter().position(|e| e.id == id) else {
        return error(404, "not_found", "Environment Variable not found");
    };
    let mut e = v.projects[pi].envs[i].clone();
    if let Some(k) = body["key"].as_str() {
        e.key = k.into();
    }
    if let Some(val) = body["value"].as_str() {
        e.value = val.into();
    }
    if let Some(t) = body["type"].as_str() {
        if !TYPES.contains(&t) {
            return bad(&format!("type must be one of {}", TYPES.join(", ")));
        }
        e.kind = t.into();
    }
    if !body["target"].is_null() {
        match strings(&body["target"], "target", 0) {
            Ok(t) if t.iter().all(|x| TARGETS.contains(&x.as_str())) => e.target = t,
            Ok(_) => return bad(&format!("target must be one of {}", TARGETS.join(", "))),
            Err(reply) => return reply,
        }
    }
    if body.get("gitBranch").is_some() {
        e.git_branch = body["gitBranch"].as_str().filter(|b| !b.is_empty()).map(str::to_string);
    }
    if !body["customEnvironmentIds"].is_null() {
        match strings(&body["customEnvironmentIds"], "customEnvironmentIds", 0) {
            Ok(c) => e.custom_environment_ids = c,
            Err(reply) => return reply,
        }
    }
    if let Some(c) = body["comment"].as_str() {
        e.comment = Some(c.into());
    }
    if let Err(reply) = rules(&e.kind, &e.target, e.git_branch.as_deref(), 0) {
        return reply;
    }
    if !key_ok(&e.key) {
        return error(
            400,
            "KEY_INVALID_CHARACTERS",
            "The name of your Environment Variable contains invalid characters",
        );
    }
    e.updated_at = now;
    e.revision += 1;
    let reply = Reply::json(200, env_json(&e));
    v.projects[pi].envs[i] = e;
    reply
}
