//! `emulate` (hidden, feature `demo`): serve the emulators for the SDK fidelity check.

use crate::exit::Exit;

/// Serves the emulators until standard input closes.
#[cfg(feature = "demo")]
pub fn emulate(port: u16, token: String, envs: &[String], latency: std::time::Duration) -> Exit {
    let emu = secret_sync_emulators::Emulator::start_on(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    {
        let mut st = emu.state();
        st.latency = latency;
        st.esc.tokens.insert(token);
        for e in envs {
            st.esc.seed(e, "");
        }
    }
    println!("{}", emu.url);
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    Exit::Ok
}
