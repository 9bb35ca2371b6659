//! Adds the schema metadata scx_arbor requires to a plain ONNX export.
//!
//! The model's bytes are edited, not decoded and written again: the
//! protobuf types of [`crate::onnx_pb`] cover only what scx_arbor reads, and
//! a model may carry more (initializers, other nodes' types, training
//! info). Every top-level field is copied as it is but the metadata entries
//! being replaced, and the new entries are appended: a protobuf parser
//! merges a repeated field's entries wherever they stand.

use anyhow::{bail, ensure, Context, Result};
use prost::Message;

use super::onnx_import::{decode, parse_feature_list, tree_node, META_FEATURES, META_SCHEMA};
use super::onnx_pb::{StringStringEntryProto, MODEL_METADATA_PROPS};
use arbor_intf::schema::{FEATURES, SCHEMA_VERSION};

/// Returns `bytes` with `arbor.schema_version` set to this scheduler's
/// schema and `arbor.features` to `features` (comma-separated schema feature
/// names, one per input column, in column order), replacing any earlier values.
pub fn annotate(bytes: &[u8], features: &str) -> Result<Vec<u8>> {
    let m = decode(bytes)?;
    tree_node(&m)?;
    let cols = parse_feature_list(features)?;
    let names: Vec<&str> = cols.iter().map(|&f| FEATURES[f].name).collect();
    ensure!(!names.is_empty(), "no features given");
    let mut out = Vec::with_capacity(bytes.len() + 256);
    for field in top_level_fields(bytes)? {
        if field.number == MODEL_METADATA_PROPS {
            let entry = StringStringEntryProto::decode(field.payload)
                .context("a metadata entry of the model is not valid protobuf")?;
            if entry.key == META_SCHEMA || entry.key == META_FEATURES {
                continue;
            }
        }
        out.extend_from_slice(field.whole);
    }
    let added = Metadata {
        metadata_props: vec![
            StringStringEntryProto {
                key: META_SCHEMA.into(),
                value: SCHEMA_VERSION.to_string(),
            },
            StringStringEntryProto {
                key: META_FEATURES.into(),
                value: names.join(","),
            },
        ],
    };
    added.encode(&mut out).context("encoding the metadata")?;
    Ok(out)
}

/// A message with only `ModelProto`'s metadata field: its encoding is the
/// entries as fields of a `ModelProto`.
#[derive(Clone, PartialEq, prost::Message)]
struct Metadata {
    #[prost(message, repeated, tag = "14")]
    metadata_props: Vec<StringStringEntryProto>,
}

/// One field of a protobuf message as it stands in its bytes.
struct Field<'a> {
    number: u32,
    /// The field with its key.
    whole: &'a [u8],
    /// What a length-delimited field delimits (empty for the other types).
    payload: &'a [u8],
}

/// Reads a varint at `*at`, moving past it.
fn varint(bytes: &[u8], at: &mut usize) -> Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at).context("a varint runs past the end")?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    bail!("a varint longer than 10 bytes")
}

/// The top-level fields of a message, in order.
fn top_level_fields(bytes: &[u8]) -> Result<Vec<Field<'_>>> {
    let mut fields = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        let key = varint(bytes, &mut at)?;
        let number = u32::try_from(key >> 3).context("a field number beyond 32 bits")?;
        let mut payload: &[u8] = &[];
        let size = match key & 7 {
            0 => {
                varint(bytes, &mut at)?;
                0
            }
            1 => 8,
            2 => {
                let len = usize::try_from(varint(bytes, &mut at)?)
                    .context("a field length beyond the address space")?;
                let end = at
                    .checked_add(len)
                    .filter(|&e| e <= bytes.len())
                    .with_context(|| format!("field {number} runs past the end"))?;
                payload = &bytes[at..end];
                len
            }
            5 => 4,
            wire => bail!("field {number} has wire type {wire}, which ONNX does not use"),
        };
        at = at
            .checked_add(size)
            .filter(|&e| e <= bytes.len())
            .with_context(|| format!("field {number} runs past the end"))?;
        fields.push(Field {
            number,
            whole: &bytes[start..at],
            payload,
        });
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx_export::to_bytes;
    use crate::onnx_import::{import_bytes, metadata};
    use crate::rows::random_ensemble;

    /// An exported model with a field onnx_pb does not know appended (a
    /// ModelProto `training_info`, number 20): annotating keeps it, byte for
    /// byte, and replaces the schema metadata.
    #[test]
    fn keeps_fields_it_does_not_know_and_replaces_the_metadata() {
        let mut bytes = to_bytes(&random_ensemble(3, 2, 3, 4)).unwrap();
        let unknown = [0xa2, 0x01, 3, 0x0a, 1, b'z'];
        bytes.extend_from_slice(&unknown);
        let names: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
        let out = annotate(&bytes, &names.join(",")).unwrap();
        let fields = top_level_fields(&out).unwrap();
        assert!(fields.iter().any(|f| f.whole == unknown), "lost a field");
        let m = decode(&out).unwrap();
        assert_eq!(metadata(&m, META_FEATURES), Some(names.join(",").as_str()));
        assert_eq!(
            m.metadata_props
                .iter()
                .filter(|p| p.key == META_SCHEMA)
                .count(),
            1,
            "the old schema entry was not replaced"
        );
        // Everything but the metadata is as it was: the same trees.
        let before = decode(&bytes).unwrap();
        assert_eq!(m.graph, before.graph);
        import_bytes(&out).unwrap();
    }

    #[test]
    fn refuses_truncated_bytes() {
        let bytes = to_bytes(&random_ensemble(4, 1, 2, 4)).unwrap();
        assert!(top_level_fields(&bytes[..bytes.len() - 1]).is_err());
        assert!(top_level_fields(&[0x0b]).is_err(), "a group");
    }
}
