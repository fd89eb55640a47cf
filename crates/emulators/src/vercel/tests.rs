//! The Vercel emulator's rules, through its routes.

use serde_json::{json, Value as Json};

use crate::{Reply, Req, State};

const TOKEN: &str = "vcp_emuTestToken0000000000";
const TEAM: &str = "team_emu000000000000000001";

fn state() -> (State, String) {
    let mut st = State::default();
    let dpl = st.vercel.seed_project(TOKEN, TEAM, "acme", "prj_emu0001", "web");
    (st, dpl)
}

fn call(st: &mut State, method: &str, path_query: &str, token: Option<&str>, body: Json) -> (u16, Json, Reply) {
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let mut headers = hyper::HeaderMap::new();
    if let Some(t) = token {
        headers.insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
    let r = Req { method, path, query, headers: &headers, body: &body };
    let reply = super::route(st, &r).expect("a Vercel route");
    let j = serde_json::from_slice(&reply.body).unwrap_or(Json::Null);
    (reply.status, j, reply)
}

fn ok(st: &mut State, method: &str, path_query: &str, body: Json) -> (u16, Json) {
    let (s, j, _) = call(st, method, path_query, Some(TOKEN), body);
    (s, j)
}

const ENV: &str = "/v10/projects/web/env?teamId=team_emu000000000000000001";
const UPSERT: &str = "/v10/projects/web/env?upsert=true&teamId=team_emu000000000000000001";

#[test]
fn upsert_creates_then_updates_the_same_key_and_targets() {
    let (mut st, _) = state();
    let item = json!({ "key": "API_KEY", "value": "one", "type": "encrypted", "target": ["production", "preview"] });
    let (s, j) = ok(&mut st, "POST", UPSERT, item.clone());
    assert_eq!(s, 201, "{j}");
    assert_eq!(j["created"]["key"], "API_KEY", "one object in, one object out: {j}");
    assert_eq!(j["failed"], json!([]));
    let id = j["created"]["id"].as_str().unwrap().to_string();
    // The same key and targets (another order): updated in place.
    let again = json!([{ "key": "API_KEY", "value": "two", "type": "encrypted", "target": ["preview", "production"] }]);
    let (s, j) = ok(&mut st, "POST", UPSERT, again);
    assert_eq!(s, 201);
    assert_eq!(j["created"][0]["id"], json!(id), "an array in, an array out: {j}");
    let envs = st.vercel.envs("web");
    assert_eq!(envs.len(), 1);
    assert_eq!(envs[0].value, "two");
    assert_eq!(st.vercel.value("web", "API_KEY", "preview"), Some("two"));
    // Without upsert the same key is refused, inside a 201.
    let (s, j) = ok(&mut st, "POST", ENV, item);
    assert_eq!(s, 201);
    assert_eq!(j["failed"][0]["error"]["code"], "ENV_ALREADY_EXISTS", "{j}");
    assert_eq!(st.vercel.envs("web")[0].value, "two");
}

#[test]
fn an_overlapping_target_set_fails_that_item_only() {
    let (mut st, _) = state();
    st.vercel.set_env("web", "DB_URL", "old", "encrypted", &["production", "preview"]);
    let body = json!([
        { "key": "DB_URL", "value": "new", "type": "encrypted", "target": ["production"] },
        { "key": "OTHER", "value": "x", "type": "plain", "target": ["development"] },
    ]);
    let (s, j) = ok(&mut st, "POST", UPSERT, body);
    assert_eq!(s, 201);
    assert_eq!(j["failed"].as_array().unwrap().len(), 1, "{j}");
    assert_eq!(j["failed"][0]["error"]["code"], "ENV_CONFLICT");
    assert_eq!(j["failed"][0]["error"]["key"], "DB_URL");
    assert_eq!(j["created"].as_array().unwrap().len(), 1);
    assert_eq!(st.vercel.value("web", "DB_URL", "production"), Some("old"));
    assert_eq!(st.vercel.value("web", "OTHER", "development"), Some("x"));
}

#[test]
fn invalid_bodies_are_400_and_write_nothing() {
    let (mut st, _) = state();
    let good = json!({ "key": "A", "value": "v", "type": "sensitive", "target": ["production"] });
    for (bad, words) in [
        (json!({ "key": "B", "value": "v", "type": "secretish", "target": ["production"] }), "type"),
        (json!({ "key": "B", "value": "v", "type": "plain", "target": ["staging"] }), "target"),
        (json!({ "key": "B", "type": "plain", "target": ["production"] }), "value"),
        (
            json!({ "key": "B", "value": "v", "type": "sensitive", "target": ["production", "development"] }),
            "development",
        ),
        (json!({ "key": "B", "value": "v", "type": "plain", "target": ["production"], "gitBranch": "f" }), "preview"),
    ] {
        let (s, j) = ok(&mut st, "POST", UPSERT, json!([good.clone(), bad]));
        assert_eq!(s, 400, "{j}");
        assert!(j["error"]["message"].as_str().unwrap().contains(words), "{words}: {j}");
    }
    let (s, j) = ok(&mut st, "POST", UPSERT, json!({ "key": "B", "value": "v", "type": "plain" }));
    assert_eq!((s, j["error"]["code"].as_str()), (400, Some("MISSING_TARGET")));
    assert!(st.vercel.envs("web").is_empty(), "nothing written");
    // Unknown fields (the CLI's `visibility`) are ignored.
    let (s, _) = ok(
        &mut st,
        "POST",
        UPSERT,
        json!({ "key": "C", "value": "v", "type": "plain", "target": ["preview"],
        "gitBranch": "feat", "visibility": "secret" }),
    );
    assert_eq!(s, 201);
    assert_eq!(st.vercel.envs("web")[0].git_branch.as_deref(), Some("feat"));
}

#[test]
fn sensitive_and_encrypted_values_are_never_listed() {
    let (mut st, _) = state();
    st.vercel.set_env("web", "PLAIN", "plain-value", "plain", &["production"]);
    let body = json!([
        { "key": "SENS", "value": "sens-value", "type": "sensitive", "target": ["production"] },
        { "key": "ENC", "value": "enc-value", "type": "encrypted", "target": ["production"] },
    ]);
    let (_, created) = ok(&mut st, "POST", UPSERT, body);
    let (s, j) = ok(&mut st, "GET", &format!("{ENV}&decrypt=true"), Json::Null);
    assert_eq!(s, 200);
    let text = format!("{j}{created}");
    assert!(!text.contains("sens-value") && !text.contains("enc-value"), "{text}");
    assert!(text.contains("plain-value"), "plain values are readable");
    let enc = j["envs"].as_array().unwrap().iter().find(|e| e["key"] == "ENC").unwrap().clone();
    assert_eq!(enc["decrypted"], false);
    assert_eq!(j["pagination"]["next"], Json::Null);
    // The ciphertext changes with every write (nothing to compare values by).
    ok(
        &mut st,
        "POST",
        UPSERT,
        json!({ "key": "ENC", "value": "enc-value", "type": "encrypted", "target": ["production"] }),
    );
    let (_, j2) = ok(&mut st, "GET", ENV, Json::Null);
    let enc2 = j2["envs"].as_array().unwrap().iter().find(|e| e["key"] == "ENC").unwrap().clone();
    assert_ne!(enc["value"], enc2["value"]);
    assert_eq!(st.vercel.value("web", "SENS", "production"), Some("sens-value"), "tests read the stored value");
}

#[test]
fn the_team_selects_the_project_and_tokens_are_checked() {
    let (mut st, _) = state();
    // No team: the personal account, where the team's project is not.
    let (s, j) = ok(&mut st, "GET", "/v10/projects/web/env", Json::Null);
    assert_eq!((s, j["error"]["code"].as_str()), (404, Some("not_found")));
    // The team by slug, and by id.
    assert_eq!(ok(&mut st, "GET", "/v10/projects/web/env?slug=acme", Json::Null).0, 200);
    assert_eq!(
        ok(&mut st, "GET", "/v10/projects/prj_emu0001/env?teamId=team_emu000000000000000001", Json::Null).0,
        200
    );
    // A team the token is not in.
    st.vercel.add_team("team_other", "other");
    let (s, j) = ok(&mut st, "GET", "/v10/projects/web/env?teamId=team_other", Json::Null);
    assert_eq!((s, j["error"]["code"].as_str()), (403, Some("forbidden")));
    // Bad and missing tokens: 403 with the flags the CLI reads.
    let (s, j, _) = call(&mut st, "GET", ENV, Some("vcp_wrong"), Json::Null);
    assert_eq!((s, &j["error"]["invalidToken"]), (403, &json!(true)));
    let (s, j, _) = call(&mut st, "GET", ENV, None, Json::Null);
    assert_eq!((s, &j["error"]["missingToken"]), (403, &json!(true)));
    // A project the token may not touch.
    st.vercel.forbidden.insert("prj_emu0001".into());
    assert_eq!(ok(&mut st, "GET", ENV, Json::Null).0, 403);
}

#[test]
fn every_answer_has_a_request_id_and_the_user_route_answers() {
    let (mut st, _) = state();
    let (s, j, reply) = call(&mut st, "GET", "/v2/user", Some(TOKEN), Json::Null);
    assert_eq!(s, 200);
    assert_eq!(j["user"]["id"], super::USER_ID);
    let id = |r: &Reply| r.headers.iter().find(|(k, _)| k == "x-vercel-id").map(|(_, v)| v.clone());
    let first = id(&reply).expect("x-vercel-id");
    let (_, _, reply) = call(&mut st, "GET", "/v2/user", Some("nope"), Json::Null);
    assert_ne!(id(&reply).expect("on errors too"), first);
}

#[test]
fn edit_and_delete_by_id_on_v9_and_v10() {
    let (mut st, _) = state();
    let a = st.vercel.set_env("web", "A", "1", "encrypted", &["production"]);
    let b = st.vercel.set_env("web", "B", "2", "encrypted", &["production"]);
    let c = st.vercel.set_env("web", "C", "3", "encrypted", &["production"]);
    let team = "teamId=team_emu000000000000000001";
    let (s, j) = ok(
        &mut st,
        "PATCH",
        &format!("/v9/projects/web/env/{a}?{team}"),
        json!({ "value": "10", "type": "sensitive" }),
    );
    assert_eq!(s, 200, "{j}");
    assert_eq!(j["type"], "sensitive");
    assert_eq!(st.vercel.value("web", "A", "production"), Some("10"));
    let (s, _) =
        ok(&mut st, "PATCH", &format!("/v10/projects/web/env/{a}?{team}"), json!({ "target": ["development"] }));
    assert_eq!(s, 400, "sensitive cannot move to development");
    assert_eq!(ok(&mut st, "DELETE", &format!("/v10/projects/web/env/{a}?{team}"), Json::Null).0, 200);
    assert_eq!(ok(&mut st, "DELETE", &format!("/v9/projects/web/env/{a}?{team}"), Json::Null).0, 404);
    let (s, j) = ok(&mut st, "DELETE", &format!("/v1/projects/web/env?{team}"), json!({ "ids": [b, "env_gone"] }));
    assert_eq!((s, &j["deleted"]), (200, &json!(1)));
    let keys: Vec<&str> = st.vercel.envs("web").iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["C"]);
    let _ = c;
}

#[test]
fn a_redeploy_builds_on_the_clock_then_serves() {
    let (mut st, old) = state();
    let team = "teamId=team_emu000000000000000001";
    let (_, p) = ok(&mut st, "GET", &format!("/v9/projects/web?{team}"), Json::Null);
    assert_eq!(p["targets"]["production"]["id"], json!(old));
    let body = json!({ "name": "web", "deploymentId": old, "target": "production", "meta": { "action": "redeploy" } });
    let (s, d) = ok(&mut st, "POST", &format!("/v13/deployments?forceNew=1&{team}"), body);
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["readyState"], "QUEUED");
    let id = d["id"].as_str().unwrap().to_string();
    let get = format!("/v13/deployments/{id}?{team}");
    let t0 = st.clock_ms;
    st.clock_ms = t0 + st.vercel.queue_ms;
    assert_eq!(ok(&mut st, "GET", &get, Json::Null).1["readyState"], "BUILDING");
    let (_, p) = ok(&mut st, "GET", &format!("/v9/projects/web?{team}"), Json::Null);
    assert_eq!(p["targets"]["production"]["id"], json!(old), "the old one serves while it builds");
    st.clock_ms = t0 + st.vercel.queue_ms + st.vercel.build_ms;
    let (_, d) = ok(&mut st, "GET", &get, Json::Null);
    assert_eq!((&d["readyState"], &d["aliasAssigned"]), (&json!("READY"), &json!(true)));
    let (_, p) = ok(&mut st, "GET", &format!("/v9/projects/web?{team}"), Json::Null);
    assert_eq!(p["targets"]["production"]["id"], json!(id));
    let made = st.vercel.created_deployments("web");
    assert_eq!(made.len(), 1);
    assert!(made[0].force_new);
    assert_eq!(made[0].meta["action"], "redeploy");
    assert_eq!(made[0].source.as_deref(), Some(old.as_str()));
    // Without a target the new deployment is a preview: it never serves production.
    let (_, d) =
        ok(&mut st, "POST", &format!("/v13/deployments?{team}"), json!({ "name": "web", "deploymentId": old }));
    assert_eq!(d["target"], Json::Null);
}

#[test]
fn a_failing_build_ends_in_error_and_production_stays() {
    let (mut st, old) = state();
    let team = "teamId=team_emu000000000000000001";
    st.vercel.fail_next_build("Command \"npm run build\" exited with 1");
    let body = json!({ "name": "web", "deploymentId": old, "target": "production", "meta": { "action": "redeploy" } });
    let (_, d) = ok(&mut st, "POST", &format!("/v13/deployments?forceNew=1&{team}"), body.clone());
    st.clock_ms += 60_000;
    let (_, d) = ok(&mut st, "GET", &format!("/v13/deployments/{}?{team}", d["id"].as_str().unwrap()), Json::Null);
    assert_eq!(d["readyState"], "ERROR");
    assert!(d["errorMessage"].as_str().unwrap().contains("npm run build"));
    assert_eq!(st.vercel.project("web").production.as_deref(), Some(old.as_str()));
    // Only the next build fails.
    let (_, d) = ok(&mut st, "POST", &format!("/v13/deployments?forceNew=1&{team}"), body.clone());
    st.clock_ms += 60_000;
    assert_eq!(st.vercel.ready_state(d["id"].as_str().unwrap(), st.clock_ms), "READY");
    // Variables over 64 KB in all: the build fails.
    st.vercel.set_env("web", "BIG", &"x".repeat(super::ENV_TOTAL_LIMIT), "encrypted", &["production"]);
    let (_, d) = ok(&mut st, "POST", &format!("/v13/deployments?forceNew=1&{team}"), body);
    st.clock_ms += 60_000;
    let (_, d) = ok(&mut st, "GET", &format!("/v13/deployments/{}?{team}", d["id"].as_str().unwrap()), Json::Null);
    assert_eq!((&d["readyState"], &d["errorCode"]), (&json!("ERROR"), &json!("ENV_VARS_TOO_LARGE")));
}

#[test]
fn a_rate_limit_answer_carries_the_reset() {
    let l = super::RateLimit { reset_in: 30, retry_after: Some(30), headers: true };
    let r = super::rate_limit_reply(&l, 1_000_500);
    let j: Json = serde_json::from_slice(&r.body).unwrap();
    assert_eq!((r.status, &j["error"]["code"]), (429, &json!("rate_limited")));
    assert_eq!(j["error"]["limit"]["reset"], 1_031);
    let h = |k: &str| r.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str());
    assert_eq!((h("x-ratelimit-reset"), h("retry-after")), (Some("1031"), Some("30")));
    let bare = super::rate_limit_reply(&super::RateLimit { headers: false, retry_after: None, ..l }, 0);
    assert!(!bare.headers.iter().any(|(k, _)| k.starts_with("x-ratelimit") || k == "Retry-After"));
}

/// Over HTTP through the one server: injected faults on Vercel paths answer
/// with Vercel's error body and headers, and the user route's limited form.
#[test]
fn injected_faults_answer_as_vercel_does() {
    use std::io::{Read, Write};
    let emu = crate::Emulator::start();
    emu.state().vercel.seed_project(TOKEN, TEAM, "acme", "prj_emu0001", "web");
    emu.state().vercel.limited.insert(TOKEN.into());
    let l = super::RateLimit { reset_in: 12, retry_after: None, headers: true };
    emu.fault(crate::Fault::on("POST", "/v10/projects/web/env", 1, crate::FaultKind::VercelLimit(l)));
    emu.fault(crate::Fault::on(
        "GET",
        "/v13/deployments/",
        1,
        crate::FaultKind::Status { code: 401, retry_after: None },
    ));
    let addr = emu.url.trim_start_matches("http://").to_string();
    let send = |method: &str, path: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer.to_ascii_lowercase()
    };
    let limited = send("POST", UPSERT);
    assert!(limited.starts_with("http/1.1 429"), "{limited}");
    let reset = (emu.clock_ms().div_ceil(1000) + 12).to_string();
    assert!(limited.contains(&format!("x-ratelimit-reset: {reset}")), "{limited}");
    assert!(limited.contains("\"rate_limited\"") && limited.contains("x-vercel-id"), "{limited}");
    let unauthorized = send("GET", "/v13/deployments/dpl_x?teamId=team_emu000000000000000001");
    assert!(unauthorized.starts_with("http/1.1 401") && unauthorized.contains("\"unauthorized\""), "{unauthorized}");
    // The fault was used up: the next upsert is the service's own answer (400: `{}` lacks a key).
    assert!(send("POST", UPSERT).starts_with("http/1.1 400"));
    let user = send("GET", "/v2/user");
    assert!(user.contains("\"limited\":true"), "{user}");
    assert_eq!(emu.count("POST", "/v10/projects/web/env"), 2);
}
