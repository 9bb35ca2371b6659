//! One outcome sample, as the BPF side sends it through the ring buffer.
//!
//! It lives beside the schema, below the scheduler, so the learning code
//! can take samples without depending on the scheduler.

use crate::bpf_intf::arbor_sample;
use crate::schema::NR_FEATURES;
use zerocopy::FromBytes;

/// One outcome: the features a decision saw, the decision, the actual burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub ts_ns: u64,
    pub pid: u32,
    pub generation: u64,
    pub features: [u32; NR_FEATURES],
    /// Action row used: a class, or `schema::CLASS_FALLBACK`.
    pub predicted: u8,
    /// Class of the actual burst.
    pub actual: u8,
    pub burst_us: u32,
    pub truncated: bool,
    /// The shadow model's class, if one was walked.
    pub shadow: Option<u8>,
    /// Where the decision was made (`enum arbor_point`: 0 the wakeup, 1 a
    /// tick, 2 the task waking another).
    pub point: u8,
    /// The decision was the oracle's (builds with the `oracle` feature).
    pub oracle: bool,
}

impl Sample {
    /// Parse a ring buffer record.
    pub fn from_bytes(bytes: &[u8]) -> Option<Sample> {
        let (raw, _) = arbor_sample::read_from_prefix(bytes).ok()?;
        Some(Sample {
            ts_ns: raw.ts_ns,
            pid: raw.pid,
            generation: raw.generation,
            features: raw.features,
            predicted: raw.predicted,
            actual: raw.actual,
            burst_us: raw.burst_us,
            truncated: raw.truncated != 0,
            shadow: (u32::from(raw.shadow) != crate::bpf_intf::arbor_limits_ARBOR_NO_SHADOW)
                .then_some(raw.shadow),
            point: raw.point,
            oracle: raw.oracle != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// A record as the ring buffer carries it, built field by field
    /// (arbor_sample has tail padding, so it is not IntoBytes).
    fn record(pid: u32, feature7: u32, burst_us: u32, actual: u8, shadow: u8) -> Vec<u8> {
        let mut b = vec![0u8; size_of::<arbor_sample>()];
        let mut put = |at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
        put(offset_of!(arbor_sample, pid), &pid.to_ne_bytes());
        put(
            offset_of!(arbor_sample, features) + 7 * 4,
            &feature7.to_ne_bytes(),
        );
        put(offset_of!(arbor_sample, burst_us), &burst_us.to_ne_bytes());
        put(offset_of!(arbor_sample, actual), &[actual]);
        put(offset_of!(arbor_sample, truncated), &[1]);
        put(offset_of!(arbor_sample, shadow), &[shadow]);
        b
    }

    #[test]
    fn parses_a_ring_buffer_record() {
        let s = Sample::from_bytes(&record(9, 11, 17000, 3, 0xff)).unwrap();
        assert_eq!(
            (s.pid, s.features[7], s.burst_us, s.actual),
            (9, 11, 17000, 3)
        );
        assert!(s.truncated);
        assert_eq!(s.shadow, None);
        let s = Sample::from_bytes(&record(9, 11, 17000, 3, 2)).unwrap();
        assert_eq!(s.shadow, Some(2));
        assert!(Sample::from_bytes(&[0u8; 3]).is_none());
    }
}
