//! Any bytes as a `--rows` / `--record` CSV file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scx_arbor::fuzzing::csv_rows;

fuzz_target!(|data: &[u8]| csv_rows(data));
