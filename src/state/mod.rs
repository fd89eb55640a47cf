//! A record of what secret-sync wrote at targets that cannot keep one
//! themselves (Fly apps, GitHub repositories): what pruning may delete, and
//! what change detection may trust. [`record`] is the data, [`store`] where
//! it lives.

pub mod record;
pub mod store;

pub use record::{Proof, Record, StateKey};
pub use store::{Loaded, ReadStatus, Store};
