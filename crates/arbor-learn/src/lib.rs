//! Learning integer tree ensembles from recorded samples. Built on
//! arbor-model (the IR it trains into) and nothing else of scx_arbor.
//!
//! * [`bins`], [`cart`]: histogram CART over the integer features.
//! * [`cost`]: what a mis-prediction costs, and the scores built on it.
//! * [`online`]: the learner the scheduler runs on live samples.
//! * [`generations`]: promoted trees and their lineage on disk.
//! * [`distill`]: one bounded tree fit to a too-big model's predictions.

pub mod bins;
pub mod cart;
pub mod cost;
pub mod distill;
pub mod generations;
pub mod online;

pub use cart::{train, CartParams, ClassWeight};
