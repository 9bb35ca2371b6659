//! Adds the schema metadata scx_arbor requires to a plain ONNX export.

use anyhow::{ensure, Result};
use prost::Message;
use tract_onnx::pb::StringStringEntryProto;

use super::onnx_import::{decode, parse_feature_list, tree_node, META_FEATURES, META_SCHEMA};
use arbor_intf::schema::{FEATURES, SCHEMA_VERSION};

/// Returns `bytes` with `arbor.schema_version` set to this scheduler's
/// schema and `arbor.features` to `features` (comma-separated schema feature
/// names, one per input column, in column order), replacing any earlier values.
pub fn annotate(bytes: &[u8], features: &str) -> Result<Vec<u8>> {
    let mut m = decode(bytes)?;
    tree_node(&m)?;
    let cols = parse_feature_list(features)?;
    let names: Vec<&str> = cols.iter().map(|&f| FEATURES[f].name).collect();
    ensure!(!names.is_empty(), "no features given");
    m.metadata_props
        .retain(|p| p.key != META_SCHEMA && p.key != META_FEATURES);
    m.metadata_props.push(StringStringEntryProto {
        key: META_SCHEMA.into(),
        value: SCHEMA_VERSION.to_string(),
    });
    m.metadata_props.push(StringStringEntryProto {
        key: META_FEATURES.into(),
        value: names.join(","),
    });
    Ok(m.encode_to_vec())
}
