// The official @vercel/sdk (pinned in package.json) against secret-sync's
// Vercel emulator, for the routes the Vercel target uses: the token probe,
// list, upsert (one and many), edit, delete (one and batch), the project's
// production deployment, a redeploy and its polling. The SDK validates every
// answer against its own schemas, so an answer it cannot parse fails here.
// Usage (tests/fidelity/vercel/run.sh): VERCEL_EMU_URL=http://127.0.0.1:PORT node check.mjs
import assert from "node:assert/strict";
import { Vercel } from "@vercel/sdk";
import { VercelError } from "@vercel/sdk/models/vercelerror.js";

const url = process.env.VERCEL_EMU_URL;
assert.ok(url, "VERCEL_EMU_URL is required");
const token = "vcp_fidelityCheckToken000000";
const teamId = "team_fidelity00000000000001";
const project = "web";

async function emu(method, path, body) {
  const res = await fetch(url + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.equal(res.status, 200, `${method} ${path}`);
  return res.json();
}

const stored = async () => (await emu("GET", `/_vercel/envs?project=${project}`)).envs;

let passed = 0;
let failed = 0;
async function check(name, f) {
  try {
    await f();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed += 1;
    const detail = typeof e?.pretty === "function" ? e.pretty() : String(e?.stack ?? e);
    console.log(`not ok - ${name}\n  ${detail.split("\n").join("\n  ")}`);
  }
}

const { productionDeploymentId: serving } = await emu("POST", "/_vercel/seed", {
  token, teamId, teamSlug: "fidelity", projectId: "prj_fidelity0001", name: project,
  limitedToken: "vcp_fidelityLimitedToken0000",
});
const vercel = new Vercel({ bearerToken: token, serverURL: url });

await check("user.getAuthUser: the token probe", async () => {
  const r = await vercel.user.getAuthUser();
  assert.ok(r.user.id.startsWith("user_"));
  assert.equal(typeof r.user.username, "string");
});

await check("user.getAuthUser: a token that may not read the full user (limited)", async () => {
  const limited = new Vercel({ bearerToken: "vcp_fidelityLimitedToken0000", serverURL: url });
  const r = await limited.user.getAuthUser();
  assert.equal(r.user.limited, true);
  assert.ok(r.user.id.startsWith("user_"));
});

await check("a bad token is VercelError 403 with invalidToken", async () => {
  const bad = new Vercel({ bearerToken: "vcp_wrong", serverURL: url });
  await assert.rejects(bad.projects.filterProjectEnvs({ idOrName: project, teamId }), (e) => {
    assert.ok(e instanceof VercelError, String(e));
    assert.equal(e.statusCode, 403);
    assert.equal(JSON.parse(e.body).error.invalidToken, true);
    assert.ok(e.headers.get("x-vercel-id"), "request id header");
    return true;
  });
});

await check("a missing team scope: the project is not found (404)", async () => {
  await assert.rejects(vercel.projects.filterProjectEnvs({ idOrName: project }), (e) => e.statusCode === 404);
});

let ids = {};
await check("projects.createProjectEnv upsert, an array: created[] and failed[]", async () => {
  const r = await vercel.projects.createProjectEnv({
    idOrName: project, teamId, upsert: "true",
    requestBody: [
      { key: "API_KEY", value: "fidelity-sensitive-1", type: "sensitive", target: ["production", "preview"] },
      { key: "PUBLIC_URL", value: "https://example.test", type: "encrypted", target: ["production"] },
    ],
  });
  assert.ok(Array.isArray(r.created), JSON.stringify(r));
  assert.equal(r.created.length, 2);
  assert.deepEqual(r.failed, []);
  for (const e of r.created) ids[e.key] = e.id;
  assert.equal(JSON.stringify(r).includes("fidelity-sensitive-1"), false, "no sensitive value in the answer");
});

await check("projects.createProjectEnv upsert, one object: updates in place", async () => {
  const r = await vercel.projects.createProjectEnv({
    idOrName: project, slug: "fidelity", upsert: "true",
    requestBody: { key: "API_KEY", value: "fidelity-sensitive-2", type: "sensitive", target: ["preview", "production"] },
  });
  assert.equal(r.created.id, ids.API_KEY);
  const s = await stored();
  assert.equal(s.length, 2);
  assert.equal(s.find((e) => e.key === "API_KEY").value, "fidelity-sensitive-2");
});

await check("projects.createProjectEnv: an item failing inside a 201", async () => {
  const r = await vercel.projects.createProjectEnv({
    idOrName: project, teamId, upsert: "true",
    requestBody: [{ key: "API_KEY", value: "x", type: "sensitive", target: ["production"] }],
  });
  assert.equal(r.failed.length, 1);
  assert.equal(r.failed[0].error.code, "ENV_CONFLICT");
});

await check("projects.createProjectEnv: sensitive with development is a 400", async () => {
  await assert.rejects(
    vercel.projects.createProjectEnv({
      idOrName: project, teamId, upsert: "true",
      requestBody: { key: "DEV_ONLY", value: "x", type: "sensitive", target: ["development"] },
    }),
    (e) => e.statusCode === 400 && JSON.parse(e.body).error.code === "bad_request",
  );
});

await check("projects.filterProjectEnvs: sensitive values never listed", async () => {
  const r = await vercel.projects.filterProjectEnvs({ idOrName: project, teamId });
  assert.equal(r.envs.length, 2);
  const k = r.envs.find((e) => e.key === "API_KEY");
  assert.equal(k.type, "sensitive");
  assert.deepEqual([...k.target].sort(), ["preview", "production"]);
  assert.equal(JSON.stringify(r).includes("fidelity-sensitive-2"), false);
  assert.equal(r.pagination.next, null);
});

await check("projects.editProjectEnv: value and target by id", async () => {
  const r = await vercel.projects.editProjectEnv({
    idOrName: project, id: ids.PUBLIC_URL, teamId,
    requestBody: { value: "https://example.test/2", target: ["production", "preview"] },
  });
  assert.equal(r.id, ids.PUBLIC_URL);
  assert.equal((await stored()).find((e) => e.key === "PUBLIC_URL").value, "https://example.test/2");
});

await check("projects.removeProjectEnv and batchRemoveProjectEnv", async () => {
  await vercel.projects.removeProjectEnv({ idOrName: project, id: ids.PUBLIC_URL, teamId });
  assert.deepEqual((await stored()).map((e) => e.key), ["API_KEY"]);
  const r = await vercel.projects.batchRemoveProjectEnv({ idOrName: project, teamId, requestBody: { ids: [ids.API_KEY] } });
  assert.equal(r.deleted, 1);
  assert.deepEqual(await stored(), []);
});

await check("projects.getProject: targets.production is the serving deployment", async () => {
  const p = await vercel.projects.getProject({ idOrName: project, teamId });
  assert.equal(p.targets.production.id, serving);
});

async function redeploy() {
  return vercel.deployments.createDeployment({
    teamId, forceNew: "1",
    requestBody: { name: project, deploymentId: serving, target: "production", meta: { action: "redeploy" } },
  });
}

async function advance(ms) {
  const now = Number(await (await fetch(`${url}/_clock`)).text());
  await fetch(`${url}/_clock?until=${now + ms}`, { method: "POST" });
}

await check("deployments.createDeployment redeploy, getDeployment until READY", async () => {
  const d = await redeploy();
  assert.equal(d.readyState, "QUEUED");
  let g = await vercel.deployments.getDeployment({ idOrUrl: d.id, teamId });
  assert.equal(g.readyState, "QUEUED");
  await advance(60_000);
  g = await vercel.deployments.getDeployment({ idOrUrl: d.id, teamId });
  assert.equal(g.readyState, "READY");
  assert.equal(g.aliasAssigned, true);
  const p = await vercel.projects.getProject({ idOrName: project, teamId });
  assert.equal(p.targets.production.id, d.id);
});

await check("a failed build: ERROR with errorMessage", async () => {
  await emu("POST", "/_vercel/fail-next-build", { message: "Command \"npm run build\" exited with 1" });
  const d = await redeploy();
  await advance(60_000);
  const g = await vercel.deployments.getDeployment({ idOrUrl: d.id, teamId });
  assert.equal(g.readyState, "ERROR");
  assert.match(g.errorMessage, /npm run build/);
});

await check("deployments.getDeployments: the production list", async () => {
  const r = await vercel.deployments.getDeployments({ projectId: "prj_fidelity0001", target: "production", teamId });
  assert.ok(r.deployments.length >= 3, JSON.stringify(r.pagination));
  assert.ok(r.deployments.every((d) => d.uid));
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
