//! Integer tree-ensemble models: the IR, the flat BPF layout and its walker,
//! ONNX import and export. It knows the schema (arbor-intf) and nothing else
//! of scx_arbor: training is arbor-learn's, tract's inference arbor-verify's
//! (this crate has ONNX's protobuf types of its own, so the scheduler does
//! not link tract).
//!
//! * [`ensemble`]: the IR and its BPF limits.
//! * [`flat`]: `struct arbor_model` layout and the reference walker (the BPF semantics).
//! * [`threshold`]: exact float-to-integer split conversion.
//! * [`onnx_attrs`], [`onnx_raw`], [`onnx_scoring`], [`onnx_import`]: ONNX
//!   tree ensembles to the IR (attributes, the raw trees, leaf scores, and
//!   the import that converts thresholds and builds the IR).
//! * [`onnx_export`]: the IR to a standard ONNX `TreeEnsembleClassifier`.
//! * [`onnx_pb`]: the ONNX protobuf messages these read and write.
//! * [`rows`]: CSV rows of features, probe rows and random ensembles.
//! * [`inspect`], [`annotate`]: what `scx_arbor model inspect` and `model
//!   annotate` do.

pub mod annotate;
pub mod ensemble;
pub mod flat;
pub mod heuristic;
pub mod inspect;
pub mod onnx_attrs;
pub mod onnx_export;
pub mod onnx_import;
pub mod onnx_pb;
pub mod onnx_raw;
pub mod onnx_scoring;
pub mod rows;
pub mod threshold;
