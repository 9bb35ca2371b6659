//! One outcome sample, as the BPF side sends it through the ring buffer.
//!
//! It lives beside the schema, outside `sched/`, so the learning code can
//! take samples without depending on the scheduler.

use crate::bpf_intf::arbor_sample;
use crate::schema::NR_FEATURES;

unsafe impl plain::Plain for arbor_sample {}

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
}

impl Sample {
    /// Parse a ring buffer record.
    pub fn from_bytes(bytes: &[u8]) -> Option<Sample> {
        // SAFETY: plain integers; all-zero is valid.
        let mut raw: arbor_sample = unsafe { std::mem::zeroed() };
        plain::copy_from_bytes(&mut raw, bytes).ok()?;
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_ring_buffer_record() {
        // SAFETY: plain integers.
        let mut raw: arbor_sample = unsafe { std::mem::zeroed() };
        raw.pid = 9;
        raw.features[7] = 11;
        raw.burst_us = 17000;
        raw.actual = 3;
        raw.truncated = 1;
        raw.shadow = 0xff;
        // SAFETY: arbor_sample is plain integers.
        let bytes = unsafe { plain::as_bytes(&raw) };
        let s = Sample::from_bytes(bytes).unwrap();
        assert_eq!(
            (s.pid, s.features[7], s.burst_us, s.actual),
            (9, 11, 17000, 3)
        );
        assert!(s.truncated);
        assert_eq!(s.shadow, None);
        raw.shadow = 2;
        // SAFETY: as above.
        let s = Sample::from_bytes(unsafe { plain::as_bytes(&raw) }).unwrap();
        assert_eq!(s.shadow, Some(2));
        assert!(Sample::from_bytes(&[0u8; 3]).is_none());
    }
}
