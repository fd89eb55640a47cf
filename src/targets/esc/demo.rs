//! The demo's ESC: the production environment seeded the way a team would
//! have it (an import, hand-written values, a stale key).

use secrecy::SecretString;
use secret_sync_emulators::esc::encrypt;

use crate::targets::Demo;

const TOKEN: &str = "pul-demo-token-for-the-local-emulator";

pub fn prepare(d: &mut Demo<'_>) -> super::Inputs {
    let st = &mut *d.state;
    st.esc.tokens.insert(TOKEN.into());
    st.esc.seed("ai-cherry/sophia/base", "values:\n  region: us-east-1\n  observability:\n    sampleRate: 0.25\n");
    st.esc.seed(
        "ai-cherry/sophia/production",
        &format!(
            "imports:\n  - sophia/base\nvalues:\n  featureFlags:\n    newOnboarding: true\n  openai:\n    apiKey:\n      fn::secret:\n        ciphertext: {}\n  environmentVariables:\n    REGION: ${{region}}\n",
            encrypt("sk-proj-an-old-key-that-was-rotated-000000")
        ),
    );
    super::Inputs { token: Some(SecretString::from(TOKEN)), api_url: Some(d.url.to_string()), ..Default::default() }
}
