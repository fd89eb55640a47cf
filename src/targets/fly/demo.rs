//! The demo's Fly.io: every app of the manifest, with two running Machines
//! each, one key set by hand long ago and one the manifest does not know.
//! The first app also has an auto-stopped Machine (updated without being
//! woken) and a `fly console` Machine (left alone).

use secrecy::SecretString;
use secret_sync_emulators::fly::Kind;

use crate::targets::Demo;

const TOKEN: &str = "fm2_demo-macaroon-for-the-local-emulator";

pub fn prepare(d: &mut Demo<'_>) -> super::Inputs {
    let st = &mut *d.state;
    st.fly.tokens.insert(TOKEN.into());
    if let Ok(m) = crate::manifest::parse(d.manifest.as_bytes(), "demo", crate::targets::SECTIONS) {
        let apps: Vec<&String> = m.targets.iter().filter_map(|t| t.spec::<super::Spec>().map(|s| &s.app)).collect();
        for (i, app) in apps.iter().enumerate() {
            st.fly.add_app(app, 2);
            st.fly.set(app, "SENTRY_DSN", "https://old@o0.ingest.sentry.io/1");
            st.fly.set(app, "FLY_POSTGRES_PRIMARY", "set-by-fly-postgres-attach");
            if i == 0 {
                st.fly.add_machine(app, &format!("{app}-stopped"), Kind::App("stopped"));
                st.fly.add_machine(app, &format!("{app}-console"), Kind::Console);
            }
        }
    }
    super::Inputs { token: Some(SecretString::from(TOKEN)), flaps_url: d.url.to_string(), ..Default::default() }
}
