//! Typed access to ONNX node attributes, with errors that name the attribute.

use super::onnx_pb::{AttributeProto, DataType, NodeProto, TensorProto};
use anyhow::{bail, Context, Result};

/// Metadata key naming the schema version a model was trained for.
pub const META_SCHEMA: &str = "arbor.schema_version";
/// Metadata key listing the schema feature of each input column, comma-separated.
pub const META_FEATURES: &str = "arbor.features";
/// Metadata key with the fixed-point fraction bits of an exported model.
pub const META_FRAC_BITS: &str = "arbor.score_frac_bits";

/// Looks an attribute up by name.
pub fn find<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

/// An INTS attribute, or `None` when absent.
pub fn ints_opt<'a>(node: &'a NodeProto, name: &str) -> Option<&'a [i64]> {
    find(node, name).map(|a| a.ints.as_slice())
}

/// A required INTS attribute.
pub fn ints<'a>(node: &'a NodeProto, name: &str) -> Result<&'a [i64]> {
    ints_opt(node, name).with_context(|| format!("attribute {name} is missing"))
}

/// A STRINGS attribute decoded as UTF-8, or `None` when absent.
pub fn strings_opt(node: &NodeProto, name: &str) -> Result<Option<Vec<String>>> {
    find(node, name)
        .map(|a| {
            a.strings
                .iter()
                .map(|s| {
                    String::from_utf8(s.clone())
                        .with_context(|| format!("attribute {name} holds a non-UTF-8 string"))
                })
                .collect()
        })
        .transpose()
}

/// A required STRINGS attribute.
pub fn strings(node: &NodeProto, name: &str) -> Result<Vec<String>> {
    strings_opt(node, name)?.with_context(|| format!("attribute {name} is missing"))
}

/// A STRING attribute, or `None` when absent.
pub fn string_opt(node: &NodeProto, name: &str) -> Result<Option<String>> {
    find(node, name)
        .map(|a| {
            String::from_utf8(a.s.clone()).with_context(|| format!("attribute {name} is not UTF-8"))
        })
        .transpose()
}

/// An INT attribute, or `None` when absent.
pub fn int_opt(node: &NodeProto, name: &str) -> Option<i64> {
    find(node, name).map(|a| a.i)
}

/// Real values from `NAME` (FLOATS) or `NAME_as_tensor` (a float or double
/// tensor), widened to f64 (exact). `None` when neither is present.
pub fn reals_opt(node: &NodeProto, name: &str) -> Result<Option<Vec<f64>>> {
    if let Some(a) = find(node, name) {
        return Ok(Some(a.floats.iter().map(|&f| f64::from(f)).collect()));
    }
    let tname = format!("{name}_as_tensor");
    match find(node, &tname).and_then(|a| a.t.as_ref()) {
        Some(t) => Ok(Some(
            tensor_reals(t).with_context(|| format!("attribute {tname}"))?,
        )),
        None => Ok(None),
    }
}

/// A required real-valued attribute (see [`reals_opt`]).
pub fn reals(node: &NodeProto, name: &str) -> Result<Vec<f64>> {
    reals_opt(node, name)?.with_context(|| format!("attribute {name} is missing"))
}

/// The values of a float or double tensor, as f64.
fn tensor_reals(t: &TensorProto) -> Result<Vec<f64>> {
    let Ok(dt) = DataType::try_from(t.data_type) else {
        bail!(
            "tensor of data type {}; expected float or double",
            t.data_type
        );
    };
    match dt {
        DataType::Float if !t.float_data.is_empty() => {
            Ok(t.float_data.iter().map(|&f| f64::from(f)).collect())
        }
        DataType::Float => {
            if !t.raw_data.len().is_multiple_of(4) {
                bail!("raw float data of {} bytes", t.raw_data.len());
            }
            Ok(t.raw_data
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect())
        }
        DataType::Double if !t.double_data.is_empty() => Ok(t.double_data.clone()),
        DataType::Double => {
            if !t.raw_data.len().is_multiple_of(8) {
                bail!("raw double data of {} bytes", t.raw_data.len());
            }
            Ok(t.raw_data
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect())
        }
        other => bail!("tensor of type {other:?}; expected float or double"),
    }
}
