//! Any bytes as a control-socket request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scx_arbor::fuzzing::control_request;

fuzz_target!(|data: &[u8]| control_request(data));
