//! The part of ONNX's protobuf schema (onnx.proto, `onnx` package) that
//! scx_arbor reads and writes: a model, its graph, the tree node and its
//! attributes, tensors of real values, the graph's input and output
//! declarations and the metadata. Field numbers and wire types are those of
//! onnx.proto, so the bytes are ONNX; a field left out here is skipped on
//! decoding (and so not written back: [`crate::annotate`] edits a model's
//! bytes in place for that reason). Scalars use proto3's presence (a zero is
//! not written), as ONNX's onnx.proto3 does.

/// `ModelProto`: a model file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelProto {
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    #[prost(string, tag = "2")]
    pub producer_name: String,
    #[prost(string, tag = "3")]
    pub producer_version: String,
    #[prost(string, tag = "4")]
    pub domain: String,
    #[prost(int64, tag = "5")]
    pub model_version: i64,
    #[prost(string, tag = "6")]
    pub doc_string: String,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "14")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

/// The field number of `ModelProto.metadata_props`.
pub const MODEL_METADATA_PROPS: u32 = 14;

/// `OperatorSetIdProto`: an operator set the model uses (`domain` empty:
/// the default one).
#[derive(Clone, PartialEq, prost::Message)]
pub struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// `StringStringEntryProto`: one metadata entry.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StringStringEntryProto {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `GraphProto`: the nodes and the declared inputs and outputs.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "10")]
    pub doc_string: String,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

/// `NodeProto`: one operator of the graph.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
    #[prost(string, tag = "7")]
    pub domain: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
    #[prost(string, tag = "6")]
    pub doc_string: String,
}

/// `AttributeProto`: a named attribute of a node; `r#type` says which of
/// the value fields holds it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "13")]
    pub doc_string: String,
    #[prost(enumeration = "AttributeType", tag = "20")]
    pub r#type: i32,
    #[prost(float, tag = "2")]
    pub f: f32,
    #[prost(int64, tag = "3")]
    pub i: i64,
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
    #[prost(float, repeated, tag = "7")]
    pub floats: Vec<f32>,
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
    #[prost(bytes = "vec", repeated, tag = "9")]
    pub strings: Vec<Vec<u8>>,
    #[prost(message, repeated, tag = "10")]
    pub tensors: Vec<TensorProto>,
}

/// `AttributeProto.AttributeType`: the kinds of attribute scx_arbor writes
/// or reads (graphs, sparse tensors and types are not among them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum AttributeType {
    Undefined = 0,
    Float = 1,
    Int = 2,
    String = 3,
    Tensor = 4,
    Floats = 6,
    Ints = 7,
    Strings = 8,
    Tensors = 9,
}

/// `TensorProto`: a constant tensor (here: real-valued attribute data).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    pub name: String,
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    #[prost(double, repeated, tag = "10")]
    pub double_data: Vec<f64>,
}

/// `TensorProto.DataType`: the element types scx_arbor names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum DataType {
    Undefined = 0,
    Float = 1,
    Int32 = 6,
    Int64 = 7,
    Double = 11,
}

/// `ValueInfoProto`: a declared graph input or output.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
    #[prost(string, tag = "3")]
    pub doc_string: String,
}

/// `TypeProto`: only its tensor case is modelled.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeProto {
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TensorTypeProto>,
}

/// `TypeProto.Tensor`: element type and shape.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

/// `TensorShapeProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// `TensorShapeProto.Dimension`: a size or a symbolic name.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dimension {
    #[prost(oneof = "DimensionValue", tags = "1, 2")]
    pub value: Option<DimensionValue>,
}

/// The `value` oneof of a [`Dimension`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum DimensionValue {
    #[prost(int64, tag = "1")]
    DimValue(i64),
    #[prost(string, tag = "2")]
    DimParam(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// Bytes written by hand from onnx.proto's field numbers and wire types:
    /// a model with ir_version 8, one opset (ai.onnx.ml, 1), a graph with a
    /// node `TreeEnsembleClassifier` of one INTS attribute, and one metadata
    /// entry.
    #[test]
    fn reads_onnx_field_numbers() {
        let attr = [
            &[0x0a, 1, b'k'][..], // name (1, bytes) "k"
            &[0xa0, 0x01, 7],     // type (20, varint) INTS = 7
            &[0x40, 3, 0x40, 5],  // ints (8, varint, unpacked) 3, 5
        ]
        .concat();
        let op = b"TreeEnsembleClassifier";
        let node = [
            &[0x0a, 1, b'x'][..],    // input (1)
            &[0x22, op.len() as u8], // op_type (4)
            op,
            &[0x2a, attr.len() as u8], // attribute (5)
            &attr,
            &[0x3a, 2, b'm', b'l'], // domain (7)
        ]
        .concat();
        let graph = [&[0x0a, node.len() as u8][..], &node].concat();
        let model = [
            &[0x08, 8][..],               // ir_version (1)
            &[0x42, 4, 0x0a, 0, 0x10, 1], // opset_import (8): "", 1
            &[0x3a, graph.len() as u8],   // graph (7)
            &graph,
            &[0x72, 6, 0x0a, 1, b'a', 0x12, 1, b'b'], // metadata_props (14)
            &[0x98, 0x01, 2],                         // an unknown field (19): skipped
        ]
        .concat();
        let m = ModelProto::decode(model.as_slice()).unwrap();
        assert_eq!(m.ir_version, 8);
        assert_eq!(m.opset_import[0].version, 1);
        let n = &m.graph.as_ref().unwrap().node[0];
        assert_eq!(
            (n.op_type.as_str(), n.domain.as_str()),
            ("TreeEnsembleClassifier", "ml")
        );
        assert_eq!(n.input, vec!["x"]);
        assert_eq!(n.attribute[0].ints, vec![3, 5]);
        assert_eq!(n.attribute[0].r#type, AttributeType::Ints as i32);
        assert_eq!(m.metadata_props[0].key, "a");
        assert_eq!(m.metadata_props[0].value, "b");
    }
}
