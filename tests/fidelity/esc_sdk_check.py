#!/usr/bin/env python3
"""Fidelity check: drive an ESC API (normally our in-process emulator) with
the official Python SDK `pulumi-esc-sdk` and nothing else.

Environment variables (all required unless marked optional):

  ESC_URL      Origin of the server, e.g. http://127.0.0.1:8080 . Do NOT add
               `/api/esc`: the SDK itself (EscClient.__init__ ->
               append_esc_to_url) REPLACES whatever path the URL has with
               `/api/esc`. This script therefore passes ESC_URL through
               unchanged and refuses a URL whose path is anything other than
               "", "/" or "/api/esc" (a path prefix would be silently dropped
               by the SDK).
  ESC_TOKEN    Access token; sent as `Authorization: token <ESC_TOKEN>`.
  ESC_ORG      Organization (the SDK rejects names shorter than 3 or longer
               than 40 characters before sending anything).
  ESC_PROJECT  Project of the environment.
  ESC_ENV      Environment name. It must exist unless ESC_CREATE=1.
  ESC_CREATE   Optional. "1": create ESC_PROJECT/ESC_ENV first (409 = exists
               is accepted).
  ESC_CHECK    Optional. "1": also run the SDK's check_environment_yaml on the
               stored definition.

The check MUTATES the environment: it sets `values.fidelity.checked: true`
and `values.fidelity.secret: {fn::secret: s3cr3t-value}` (idempotent).

Prints one line per step; exits 1 on the first failure, 2 on bad usage.
Requires Python >= 3.10 (the SDK uses `X | None` annotations).
"""

import json
import os
import sys
from urllib.parse import urlparse

SECRET = "s3cr3t-value"
STEP = "setup"


def ok(msg):
    print(f"ok    {STEP}: {msg}", flush=True)


def fail(msg):
    msg = " | ".join(line.strip() for line in str(msg).splitlines() if line.strip())
    print(f"FAIL  {STEP}: {msg}", flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def step(name):
    global STEP
    STEP = name


def main():
    missing = [v for v in ("ESC_URL", "ESC_TOKEN", "ESC_ORG", "ESC_PROJECT", "ESC_ENV")
               if not os.environ.get(v)]
    if missing:
        print(f"usage error: missing environment variable(s): {', '.join(missing)}", file=sys.stderr)
        sys.exit(2)
    url = os.environ["ESC_URL"]
    token = os.environ["ESC_TOKEN"]
    org = os.environ["ESC_ORG"]
    project = os.environ["ESC_PROJECT"]
    env = os.environ["ESC_ENV"]
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        print(f"usage error: ESC_URL must be an http(s) origin, got {url!r}", file=sys.stderr)
        sys.exit(2)
    if parsed.path.rstrip("/") not in ("", "/api/esc") or parsed.query or parsed.fragment:
        print(f"usage error: ESC_URL path {parsed.path!r} would be discarded by the SDK "
              "(it always uses <scheme>://<host:port>/api/esc); pass the bare origin",
              file=sys.stderr)
        sys.exit(2)

    try:
        import pulumi_esc_sdk as esc
        from pulumi_esc_sdk.exceptions import ApiException
        from importlib.metadata import version
        sdk_version = version("pulumi-esc-sdk")
    except Exception as e:  # noqa: BLE001
        print(f"FAIL  setup: cannot import pulumi_esc_sdk ({e}); "
              "pip install -r tests/fidelity/requirements.txt", flush=True)
        sys.exit(1)

    def api_error(e):
        body = e.body if isinstance(e.body, str) else repr(e.body)
        fail(f"HTTP {e.status} {e.reason}: {body[:500]}")

    try:
        run(esc, ApiException, sdk_version, url, token, org, project, env)
    except ApiException as e:
        api_error(e)
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001  (pydantic ValidationError, bad YAML, ...)
        fail(f"{type(e).__name__}: {e}")
    print("ok    all steps passed", flush=True)


def fidelity_of(defn):
    """values.fidelity from a parsed EnvironmentDefinition (it is an
    additional property of EnvironmentDefinitionValues)."""
    if defn is None or defn.values is None:
        return None
    return defn.values.additional_properties.get("fidelity")


def run(esc, ApiException, sdk_version, url, token, org, project, env):
    name = f"{org}/{project}/{env}"

    step("client")
    config = esc.Configuration(host=url, access_token=token)
    config.no_proxy = ["*"]  # never route the emulator through HTTP(S)_PROXY
    client = esc.EscClient(config)
    ok(f"pulumi-esc-sdk {sdk_version}, base {client.esc_api.api_client.configuration.host}")

    if os.environ.get("ESC_CREATE") == "1":
        step("create_environment")
        try:
            client.create_environment(org, project, env)
            ok(f"created {name}")
        except ApiException as e:
            if e.status != 409:
                raise
            ok(f"{name} already exists (409)")

    step("list_environments")
    seen, token_, pages = [], None, 0
    while True:
        page = client.list_environments(org, token_)
        check(isinstance(page, esc.OrgEnvironments), f"expected OrgEnvironments, got {type(page).__name__}")
        for e in page.environments or []:
            seen.append((e.project, e.name))
        token_ = page.next_token
        pages += 1
        if not token_:
            break
        check(pages < 1000, "more than 1000 pages: nextToken never ends")
    check((project, env) in seen, f"{project}/{env} not listed; got {sorted(seen)[:20]}")
    ok(f"{name} listed among {len(seen)} environment(s) in {pages} page(s)")

    step("get_environment")
    defn, raw = client.get_environment(org, project, env)
    check(isinstance(raw, (bytes, bytearray)), f"raw definition is {type(raw).__name__}, not bytes")
    if defn is None:
        check(raw.strip() in (b"", b"{}", b"null"), f"definition did not parse: {raw[:200]!r}")
        defn = esc.EnvironmentDefinition()
    check(isinstance(defn, esc.EnvironmentDefinition), f"expected EnvironmentDefinition, got {type(defn).__name__}")
    ok(f"definition parsed ({len(raw)} bytes, imports={defn.imports or []})")

    step("update_environment")
    if defn.values is None:
        defn.values = esc.EnvironmentDefinitionValues()
    defn.values.additional_properties["fidelity"] = {
        "checked": True,
        "secret": {"fn::secret": SECRET},
    }
    diags = client.update_environment(org, project, env, defn)
    check(diags is None or isinstance(diags, esc.EnvironmentDiagnostics),
          f"expected EnvironmentDiagnostics, got {type(diags).__name__}")
    check(not (diags and diags.diagnostics), f"update returned diagnostics: {diags and diags.to_dict()}")
    ok("definition updated from an EnvironmentDefinition object")

    step("get_environment (read back)")
    defn2, raw2 = client.get_environment(org, project, env)
    fid = fidelity_of(defn2)
    check(isinstance(fid, dict), f"values.fidelity missing after update; raw: {raw2[:300]!r}")
    check(fid.get("checked") is True, f"values.fidelity.checked is {fid.get('checked')!r}, expected true")
    sec = fid.get("secret")
    check(isinstance(sec, dict) and "fn::secret" in sec,
          f"values.fidelity.secret is not an fn::secret: {type(sec).__name__}")
    check(SECRET.encode() not in raw2, "secret is stored/returned as PLAINTEXT by the non-decrypted read")
    check(sec["fn::secret"] != SECRET, "fn::secret came back as plaintext")
    ok("fidelity.checked is true; fidelity.secret is an fn::secret without plaintext")

    step("decrypt_environment")
    ddefn, draw = client.decrypt_environment(org, project, env)
    dfid = fidelity_of(ddefn)
    check(isinstance(dfid, dict), f"values.fidelity missing in decrypted definition; raw: {draw[:300]!r}")
    check(dfid.get("secret") == {"fn::secret": SECRET},
          "decrypted values.fidelity.secret is not {fn::secret: <plaintext>}")
    ok("decrypted definition shows the plaintext under fn::secret")

    step("update_environment_yaml")
    diags = client.update_environment_yaml(org, project, env, raw2.decode("utf-8"))
    check(not (diags and diags.diagnostics), f"update returned diagnostics: {diags and diags.to_dict()}")
    defn3, raw3 = client.get_environment(org, project, env)
    fid3 = fidelity_of(defn3)
    check(isinstance(fid3, dict) and fid3.get("checked") is True,
          "values.fidelity.checked lost after re-saving the stored (encrypted) YAML text")
    check(SECRET.encode() not in raw3, "secret became plaintext after re-saving the stored YAML text")
    ok("stored YAML text (with ciphertext) re-saved unchanged in meaning")

    if os.environ.get("ESC_CHECK") == "1":
        step("check_environment_yaml")
        res = client.check_environment_yaml(org, raw3.decode("utf-8"))
        check(isinstance(res, esc.CheckEnvironment), f"expected CheckEnvironment, got {type(res).__name__}")
        check(not res.diagnostics, f"check returned diagnostics: {[d.summary for d in res.diagnostics or []]}")
        ok("definition checks clean")

    step("open_environment")
    opened = client.open_environment(org, project, env)
    check(isinstance(opened, esc.OpenEnvironment) and opened.id, "open returned no session id")
    check(not (opened.diagnostics and opened.diagnostics.diagnostics),
          f"open returned diagnostics: {opened.diagnostics and opened.diagnostics.to_dict()}")
    ok(f"session {opened.id}")

    step("read_open_environment")
    environment, values, raw_open = client.read_open_environment(org, project, env, opened.id)
    check(isinstance(environment, esc.Environment), f"expected Environment, got {type(environment).__name__}")
    fv = (values or {}).get("fidelity")
    check(isinstance(fv, dict), f"opened values have no object 'fidelity': {sorted((values or {}).keys())}")
    check(fv.get("checked") is True, f"fidelity.checked opened as {fv.get('checked')!r}, expected true")
    check(fv.get("secret") == SECRET, "fidelity.secret did not open to its plaintext")
    prop = environment.properties["fidelity"]
    check(isinstance(prop.value, dict) and isinstance(prop.value.get("secret"), dict),
          "properties.fidelity.value.secret is not a Value object {value, secret, trace}")
    check(prop.value["secret"].get("secret") is True,
          "properties.fidelity.value.secret.secret is not true (secret not marked secret)")
    check(prop.value["checked"].get("secret") in (None, False), "fidelity.checked is wrongly marked secret")
    check(json.loads(raw_open) is not None, "raw opened body is not JSON")
    ok("fidelity.checked = true; fidelity.secret = <the plaintext>, marked secret")

    step("open_and_read_environment")
    _, values2, _ = client.open_and_read_environment(org, project, env)
    check((values2 or {}).get("fidelity") == {"checked": True, "secret": SECRET},
          "open_and_read_environment values differ from open + read")
    ok("same values through the one-call helper")


if __name__ == "__main__":
    main()
