//! The libbpf-rs skeleton of `bpf/floor.bpf.c`, generated at build time.
#![allow(clippy::all)]

include!(concat!(env!("OUT_DIR"), "/floor_skel.rs"));
