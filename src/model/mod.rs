//! Integer tree-ensemble models: the IR, the flat BPF layout and its walker,
//! ONNX import and export, and the `scx_arbor model` commands.
//!
//! * [`ensemble`]: the IR and its BPF limits.
//! * [`flat`]: `struct arbor_model` layout and the reference walker (the BPF semantics).
//! * [`threshold`]: exact float-to-integer split conversion.
//! * [`onnx_attrs`], [`onnx_import`]: ONNX tree ensembles to the IR.
//! * [`onnx_export`]: the IR to a standard ONNX `TreeEnsembleClassifier`.
//! * [`tract_run`]: reference inference through tract.
//! * [`rows`], [`verify`], [`inspect`], [`annotate`], [`distill`], [`cli`]: the `model` commands.

pub mod annotate;
pub mod cli;
pub mod distill;
pub mod ensemble;
pub mod flat;
pub mod inspect;
pub mod onnx_attrs;
pub mod onnx_export;
pub mod onnx_import;
pub mod rows;
pub mod threshold;
pub mod tract_run;
pub mod verify;
