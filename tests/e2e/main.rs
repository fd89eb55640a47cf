//! End-to-end tests: the real binary, run as the Actions runner runs a
//! container action and as a local CLI. One test binary for all of them, so
//! the crate is built once.

#[macro_use]
mod harness;

mod action;
mod architecture;
mod artifact;
mod canary;
mod cli;
mod contract;
mod corpus;
mod esc;
mod esc_corpus;
mod fly;
mod fly_roll;
mod github;
mod github_destinations;
mod github_pace;
mod hostile;
mod kubernetes;
mod matrix;
mod probe;
mod release;
mod scan;
mod schema;
mod state;
mod vercel;
