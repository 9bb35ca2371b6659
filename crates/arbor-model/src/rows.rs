//! Feature rows: CSV files read by header name, and generated rows that
//! probe every threshold of a model.

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

use super::ensemble::{Ensemble, Node, Tree};
use arbor_intf::schema::{
    features_of_schema, FEATURES, FEATURE_MAX, NR_FEATURES, SCHEMA_OLDEST, SCHEMA_VERSION,
};
use arbor_util::rng::SplitMix64;

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
    /// must be in `0..=FEATURE_MAX`. A CSV recorded under an older schema
    /// (all of its features, none of the later ones) gives the later
    /// features 0: what they are at a wakeup decision, which is all an
    /// older scheduler recorded.
    pub fn feature_rows(&self) -> Result<Vec<Row>> {
        let has = |f: &usize| self.header.iter().any(|h| h == FEATURES[*f].name);
        let mut width = NR_FEATURES;
        for version in (SCHEMA_OLDEST..SCHEMA_VERSION).rev() {
            let Some(n) = features_of_schema(version) else {
                continue;
            };
            if (0..n).all(|f| has(&f)) && !(n..NR_FEATURES).any(|f| has(&f)) {
                width = n;
                break;
            }
        }
        let needed: Vec<usize> = (0..width).collect();
        self.rows_of(&needed)
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

/// A feature value, log-uniform over `0..=FEATURE_MAX` so small values are common.
pub fn random_feature(rng: &mut SplitMix64) -> u32 {
    let e = rng.below(25) as u32;
    let hi = if e >= 24 {
        FEATURE_MAX
    } else {
        (1u32 << e) - 1
    };
    rng.below(u64::from(hi) + 1) as u32
}

/// A random valid ensemble of `nc` classes with `trees` trees of depth <=
/// `depth`, for probes of the importer, the exporter and the walkers.
pub fn random_ensemble(seed: u64, trees: usize, depth: usize, nc: usize) -> Ensemble {
    let mut rng = SplitMix64::new(seed);
    let mut e = Ensemble::new(nc, 12);
    for c in 0..nc {
        e.base_scores[c] = rng.below(2000) as i32 - 1000;
    }
    fn grow(rng: &mut SplitMix64, nodes: &mut Vec<Node>, d: usize, nc: usize) -> u32 {
        let me = nodes.len();
        nodes.push(Node::Leaf { scores: [0; 4] });
        if d == 0 || rng.below(5) == 0 {
            let mut scores = [0; 4];
            for s in scores.iter_mut().take(nc) {
                *s = rng.below(8192) as i32 - 4096;
            }
            nodes[me] = Node::Leaf { scores };
        } else {
            let feature = rng.below(NR_FEATURES as u64) as u16;
            let threshold = random_feature(rng).min(arbor_intf::schema::FEATURE_MAX - 1);
            let left = grow(rng, nodes, d - 1, nc);
            let right = grow(rng, nodes, d - 1, nc);
            nodes[me] = Node::Split {
                feature,
                threshold,
                left,
                right,
            };
        }
        me as u32
    }
    for _ in 0..trees {
        let mut nodes = Vec::new();
        grow(&mut rng, &mut nodes, depth, nc);
        e.trees.push(Tree { nodes });
    }
    e
}

/// Rows covering every split threshold `k` of the model at `k - 1`, `k`,
/// `k + 1` (other features random), then `random` random rows.
pub fn probe_rows(e: &Ensemble, random: usize, seed: u64) -> Vec<Row> {
    let mut rng = SplitMix64::new(seed);
    let rand_row = |rng: &mut SplitMix64| -> Row { std::array::from_fn(|_| random_feature(rng)) };
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
        text.push_str("\n2,1,2,3,4,5,6,7,8,9,10,11\n");
        let t = Table::parse(&text).unwrap();
        assert_eq!(t.u32_column("actual").unwrap(), vec![2]);
        assert_eq!(
            t.feature_rows().unwrap(),
            vec![[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]]
        );
        assert!(Table::parse("a,b\n1\n").is_err());
        assert!(Table::parse("a,b\n1,2\n").unwrap().feature_rows().is_err());
        let big = text.replace("2,1,2", &format!("2,{},2", FEATURE_MAX as u64 + 1));
        assert!(Table::parse(&big).unwrap().feature_rows().is_err());
    }

    #[test]
    fn a_schema_1_recording_reads_with_the_later_features_0() {
        let v1: Vec<&str> = FEATURES[..8].iter().map(|f| f.name).collect();
        let t = Table::parse(&format!("{}\n1,2,3,4,5,6,7,8\n", v1.join(","))).unwrap();
        assert_eq!(
            t.feature_rows().unwrap(),
            vec![[1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0]]
        );
        // One schema-2 column but not all of them: not a schema-1 file.
        let t = Table::parse(&format!("{},elapsed_us\n1,2,3,4,5,6,7,8,9\n", v1.join(","))).unwrap();
        let e = format!("{:#}", t.feature_rows().unwrap_err());
        assert!(e.contains("wakes_in_burst"), "{e}");
    }

    #[test]
    fn only_the_needed_columns_in_any_order() {
        let t = Table::parse("pid,ewma_sleep_us,x,last_burst_us\n9,30,zz,10\n").unwrap();
        assert_eq!(
            t.rows_of(&[0, 2]).unwrap(),
            vec![[10, 0, 30, 0, 0, 0, 0, 0, 0, 0, 0]]
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
        let mut a = SplitMix64::new(5);
        let mut b = SplitMix64::new(5);
        for _ in 0..1000 {
            let v = random_feature(&mut a);
            assert_eq!(v, random_feature(&mut b));
            assert!(v <= FEATURE_MAX);
            assert!(a.below(7) < 7);
            b.below(7);
        }
    }
}
