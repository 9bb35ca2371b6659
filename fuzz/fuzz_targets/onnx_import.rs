//! Any bytes as an ONNX model: the importer and the integer compiler must
//! refuse or accept without panicking, and an accepted model's flat array
//! (what BPF walks) must decide exactly as the integer ensemble does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scx_arbor::fuzzing::onnx_import;

fuzz_target!(|data: &[u8]| onnx_import(data));
