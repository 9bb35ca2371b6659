//! Feature rows: CSV files read by header name, and generated rows that
//! probe every threshold of a model.

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

use super::ensemble::{Ensemble, Node};
use crate::schema::{FEATURES, FEATURE_MAX, NR_FEATURES};

/// A feature row in schema order.
pub type Row = [u32; NR_FEATURES];

/// A CSV table: a header and string cells (no quoting; scx_arbor writes none).
#[derive(Debug, Clone)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Data rows, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Parses CSV text.
    pub fn parse(text: &str) -> Result<Self> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, head) = lines.next().context("the CSV file is empty")?;
        let header: Vec<String> = head.split(',').map(|s| s.trim().to_string()).collect();
        let mut rows = Vec::new();
        for (n, line) in lines {
            let cells: Vec<String> = line.split(',').map(|s| s.trim().to_string()).collect();
            ensure!(
                cells.len() == header.len(),
                "line {}: {} cells, the header has {}",
                n + 1,
                cells.len(),
                header.len()
            );
            rows.push(cells);
        }
        Ok(Self { header, rows })
    }

    /// Reads and parses a CSV file.
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Index of a column by name.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.header
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("the CSV has no column {name:?}"))
    }

    /// A column as unsigned integers.
    pub fn u32_column(&self, name: &str) -> Result<Vec<u32>> {
        let c = self.column(name)?;
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                r[c].parse::<u32>()
                    .with_context(|| format!("row {}: {name} = {:?} is not a u32", i + 2, r[c]))
            })
            .collect()
    }

    /// The schema features of every row, read by column name; each value
    /// must be in `0..=FEATURE_MAX`.
    pub fn feature_rows(&self) -> Result<Vec<Row>> {
        let all: Vec<usize> = (0..NR_FEATURES).collect();
        self.rows_of(&all)
    }

    /// Rows with only the schema features `needed` (indices) read from
    /// their columns, in any column order; every other feature is 0. A
    /// missing column is an error that names every missing feature.
    pub fn rows_of(&self, needed: &[usize]) -> Result<Vec<Row>> {
        let missing: Vec<&str> = needed
            .iter()
            .map(|&f| FEATURES[f].name)
            .filter(|n| !self.header.iter().any(|h| h == n))
            .collect();
        ensure!(
            missing.is_empty(),
            "the CSV has no column {} (it needs the columns {})",
            missing.join(", "),
            needed
                .iter()
                .map(|&f| FEATURES[f].name)
                .collect::<Vec<_>>()
                .join(", ")
        );
        let cols = needed
            .iter()
            .map(|&f| Ok((f, self.column(FEATURES[f].name)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(self.rows.len());
        for (i, r) in self.rows.iter().enumerate() {
            let mut row = [0u32; NR_FEATURES];
            for &(f, c) in &cols {
                let v: u32 = r[c].parse().with_context(|| {
                    format!(
                        "row {}: {} = {:?} is not a u32",
                        i + 2,
                        FEATURES[f].name,
                        r[c]
                    )
                })?;
                if v > FEATURE_MAX {
                    bail!(
                        "row {}: {} = {v} is above the schema maximum {FEATURE_MAX}",
                        i + 2,
                        FEATURES[f].name
                    );
                }
                row[f] = v;
            }
            out.push(row);
        }
        Ok(out)
    }
}

/// A small deterministic PRNG (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// A feature value, log-uniform over `0..=FEATURE_MAX` so small values are common.
    pub fn feature(&mut self) -> u32 {
        let e = self.below(25) as u32;
        let hi = if e >= 24 {
            FEATURE_MAX
        } else {
            (1u32 << e) - 1
        };
        self.below(u64::from(hi) + 1) as u32
    }
}

/// Rows covering every split threshold `k` of the model at `k - 1`, `k`,
/// `k + 1` (other features random), then `random` random rows.
pub fn probe_rows(e: &Ensemble, random: usize, seed: u64) -> Vec<Row> {
    let mut rng = Rng::new(seed);
    let rand_row = |rng: &mut Rng| -> Row { std::array::from_fn(|_| rng.feature()) };
    let mut out = Vec::new();
    for t in &e.trees {
        for n in &t.nodes {
            if let Node::Split {
                feature, threshold, ..
            } = n
            {
                let k = (*threshold).min(FEATURE_MAX);
                for v in [k.saturating_sub(1), k, k.saturating_add(1).min(FEATURE_MAX)] {
                    let mut r = rand_row(&mut rng);
                    r[*feature as usize] = v;
                    out.push(r);
                }
            }
        }
    }
    for _ in 0..random {
        out.push(rand_row(&mut rng));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_by_header_name() {
        let mut text = String::from("actual,");
        text.push_str(
            &FEATURES
                .iter()
                .map(|f| f.name)
                .collect::<Vec<_>>()
                .join(","),
        );
        text.push_str("\n2,1,2,3,4,5,6,7,8\n");
        let t = Table::parse(&text).unwrap();
        assert_eq!(t.u32_column("actual").unwrap(), vec![2]);
        assert_eq!(t.feature_rows().unwrap(), vec![[1, 2, 3, 4, 5, 6, 7, 8]]);
        assert!(Table::parse("a,b\n1\n").is_err());
        assert!(Table::parse("a,b\n1,2\n").unwrap().feature_rows().is_err());
        let big = text.replace("2,1,2", &format!("2,{},2", FEATURE_MAX as u64 + 1));
        assert!(Table::parse(&big).unwrap().feature_rows().is_err());
    }

    #[test]
    fn only_the_needed_columns_in_any_order() {
        let t = Table::parse("pid,ewma_sleep_us,x,last_burst_us\n9,30,zz,10\n").unwrap();
        assert_eq!(
            t.rows_of(&[0, 2]).unwrap(),
            vec![[10, 0, 30, 0, 0, 0, 0, 0]]
        );
        let e = format!("{:#}", t.rows_of(&[0, 1, 4]).unwrap_err());
        assert!(
            e.contains("no column ewma_burst_us, voluntary_permille"),
            "{e}"
        );
        assert!(t.feature_rows().is_err());
    }

    #[test]
    fn rng_is_deterministic_and_in_range() {
        let mut a = Rng::new(5);
        let mut b = Rng::new(5);
        for _ in 0..1000 {
            let v = a.feature();
            assert_eq!(v, b.feature());
            assert!(v <= FEATURE_MAX);
            assert!(a.below(7) < 7);
            b.below(7);
        }
    }
}
