//! Learning integer tree ensembles from recorded samples.

pub mod bins;
pub mod cart;
pub mod cost;
pub mod generations;
pub mod online;

pub use cart::{train, CartParams, ClassWeight};
