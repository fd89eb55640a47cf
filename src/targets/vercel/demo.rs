//! The demo's Vercel: the example's dashboard frontend deploys on Vercel, so
//! the demo adds that project as a target (its session secret and the
//! OpenAI key), seeds it with a production deployment and a variable set by
//! hand, and the sync writes the two and redeploys production once.

use secrecy::SecretString;

use crate::targets::Demo;

const TOKEN: &str = "vercel-demo-token-for-the-local-emulator";
const TEAM: &str = "team_aicherry0000000000000";

const TARGET: &str = "  vercel:
    dashboard:
      environment: production
      project: sophia-dashboard
      team: team_aicherry0000000000000
";

const SECRETS: &str = "
  NEXTAUTH_SECRET:
    description: Session signing secret of the dashboard frontend
    group: security-tokens
    min_length: 32
    required: [production]
    to:
      - vercel: dashboard
";

pub fn prepare(d: &mut Demo<'_>) -> super::Inputs {
    // Inside `targets:` (the last block before `secrets:`), and a secret at the end.
    if let Some(at) = d.manifest.find("\nsecrets:\n") {
        d.manifest.insert_str(at + 1, &format!("{TARGET}\n"));
        d.manifest.push_str(SECRETS);
        d.secrets.push_str("\n# --- the dashboard on Vercel (demo) ---\nPROD_NEXTAUTH_SECRET=demo-only-not-a-real-nextauth-secret-00000001\n");
    }
    let v = &mut d.state.vercel;
    v.seed_project(TOKEN, TEAM, "ai-cherry", "prj_sophiadashboard0000000", "sophia-dashboard");
    v.set_env("sophia-dashboard", "NEXT_PUBLIC_POSTHOG_KEY", "phc_set-in-the-dashboard", "plain", &["production"]);
    super::Inputs { token: Some(SecretString::from(TOKEN)), api_url: d.url.to_string(), ..Default::default() }
}
