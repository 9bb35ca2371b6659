//! `scx_arbor model ...`: verify, inspect, train, distill and annotate ONNX
//! models.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use arbor_intf::schema::{CLASS_NAMES, NR_CLASSES};
use arbor_learn::{self as learn, distill, CartParams, ClassWeight};
use arbor_model::rows::{Row, Table};
use arbor_model::{annotate, flat, inspect, onnx_export, onnx_import};
use arbor_util::rng::SplitMix64;

/// Class weighting for `model train`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClassWeightArg {
    /// Weigh classes inversely to their frequency (scikit-learn's "balanced").
    Balanced,
    /// Every sample counts the same.
    None,
}

/// Compare the integer walker (the BPF semantics) with tract's inference
/// of the ONNX file and with stored labels; exits non-zero unless they
/// agree on every row.
///
/// Defined here, not in arbor-verify, so that the scheduler's binary, which
/// parses it, does not link arbor-verify: tract registers its operators with
/// constructors, which keep all of it in any binary that links it.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The ONNX model.
    pub file: PathBuf,
    /// CSV of rows whose header names (at least) the features the model
    /// splits on, in any order (e.g. a `--record` CSV); other columns are
    /// ignored and listed. A `label` column, if present, is compared
    /// too. Without it, rows probe every threshold and its ±1
    /// neighbours.
    #[arg(long, value_name = "CSV")]
    pub rows: Option<PathBuf>,
    /// Random rows added to the generated ones (without --rows).
    #[arg(long, default_value_t = 10_000)]
    pub random: usize,
    /// Seed of the generated rows.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Model commands.
#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    /// Compare the integer walker (the BPF semantics) with tract's inference
    /// of the ONNX file and with stored labels; exits non-zero unless they
    /// agree on every row. Runs in scx_arbor_tools, where tract is.
    Verify(VerifyArgs),
    /// Print a model: schema, classes, node counts, depth, BPF map size and
    /// every tree with feature names and units.
    Inspect {
        /// The ONNX model.
        file: PathBuf,
        /// Print only the summary, not the trees.
        #[arg(long)]
        summary: bool,
    },
    /// Train a decision tree (histogram CART) on a `--record` CSV and write
    /// it as ONNX; prints held-out accuracy and the confusion matrix.
    Train {
        /// Samples recorded by `scx_arbor --record` (features, `actual` class).
        #[arg(long, value_name = "CSV")]
        csv: PathBuf,
        /// Output ONNX file.
        #[arg(long, value_name = "MODEL.onnx")]
        out: PathBuf,
        /// Largest number of splits on a root-to-leaf path (at most 24).
        #[arg(long, default_value_t = 8)]
        max_depth: usize,
        /// Smallest number of samples in a leaf.
        #[arg(long, default_value_t = 20)]
        min_samples_leaf: usize,
        /// Class weighting.
        #[arg(long, value_enum, default_value_t = ClassWeightArg::None)]
        class_weight: ClassWeightArg,
        /// Share of samples held out for evaluation (0 to train on all).
        #[arg(long, default_value_t = 0.2)]
        holdout: f64,
        /// Seed of the held-out split.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Bins per feature (2..=256).
        #[arg(long, default_value_t = 256)]
        max_bins: usize,
    },
    /// Replace a model too big for the BPF walk by one bounded tree: label
    /// the samples with the big model's own (exact) predictions, fit a tree
    /// to them, and report its fidelity to the big model and both models'
    /// accuracy against the recorded classes.
    Distill {
        /// The big ONNX model (it need not fit the BPF limits).
        big: PathBuf,
        /// Samples recorded by `scx_arbor --record`: the features, and
        /// `actual` if present (then both models' accuracy is reported).
        #[arg(long, value_name = "CSV")]
        csv: PathBuf,
        /// Output ONNX file (the small tree).
        #[arg(long, value_name = "SMALL.onnx")]
        out: PathBuf,
        /// Largest number of splits on a root-to-leaf path of the small
        /// tree (at most 24): deeper imitates better, walks more nodes.
        #[arg(long, default_value_t = 8)]
        max_depth: usize,
        /// Smallest number of samples in a leaf of the small tree.
        #[arg(long, default_value_t = 20)]
        min_samples_leaf: usize,
        /// Share of samples held out for the report (0 to fit on all).
        #[arg(long, default_value_t = 0.2)]
        holdout: f64,
        /// Seed of the held-out split.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Add the schema metadata (arbor.schema_version, arbor.features) that
    /// scx_arbor requires to a plain ONNX export.
    Annotate {
        /// The ONNX model to annotate.
        input: PathBuf,
        /// Where to write the annotated model (may equal the input).
        output: PathBuf,
        /// Schema feature of each input column, in column order,
        /// comma-separated (e.g. last_burst_us,ewma_burst_us).
        #[arg(long, value_name = "NAME,NAME,...")]
        features: String,
    },
}

/// Runs a model command.
pub fn run(cmd: ModelCommand) -> Result<()> {
    match cmd {
        ModelCommand::Verify(_) => crate::tools::exec_tools(),
        ModelCommand::Inspect { file, summary } => {
            let start = Instant::now();
            let imported = onnx_import::import_file(&file)?;
            let took = start.elapsed();
            print!("{}", inspect::summary(&imported));
            println!("import + compile: {:.3} ms", took.as_secs_f64() * 1e3);
            if !summary {
                print!("{}", inspect::trees_text(&imported.ensemble));
            }
            Ok(())
        }
        ModelCommand::Train {
            csv,
            out,
            max_depth,
            min_samples_leaf,
            class_weight,
            holdout,
            seed,
            max_bins,
        } => train(
            &csv,
            &out,
            CartParams {
                max_depth,
                min_samples_leaf,
                class_weight: match class_weight {
                    ClassWeightArg::Balanced => ClassWeight::Balanced,
                    ClassWeightArg::None => ClassWeight::None,
                },
                max_bins,
            },
            holdout,
            seed,
        ),
        ModelCommand::Distill {
            big,
            csv,
            out,
            max_depth,
            min_samples_leaf,
            holdout,
            seed,
        } => {
            let bytes = read(&big)?;
            let table = Table::read(&csv)?;
            let params = distill::Params {
                max_depth,
                min_samples_leaf,
                holdout,
                seed,
            };
            let (small, report) = distill::distill(&bytes, &table, &params)
                .with_context(|| format!("distilling {}", big.display()))?;
            print!("{}", report.text());
            onnx_export::write_file(&small, &out)?;
            // The file written must be the tree just scored, walked as BPF walks it.
            let back = onnx_import::import_file(&out)?;
            let m = flat::flatten(&back.ensemble, 1)?;
            for r in table.rows_of(&back.ensemble.used_features())? {
                let w = flat::walk(&m, &r).map_err(|f| anyhow::anyhow!("walk fault {f:?}"))?;
                if w.class != small.predict(&r)? {
                    bail!(
                        "{}: the written model differs from the fitted tree",
                        out.display()
                    );
                }
            }
            println!("wrote {} (scx_arbor accepts it)", out.display());
            Ok(())
        }
        ModelCommand::Annotate {
            input,
            output,
            features,
        } => {
            let bytes = read(&input)?;
            let out = annotate::annotate(&bytes, &features)
                .with_context(|| format!("annotating {}", input.display()))?;
            std::fs::write(&output, &out)
                .with_context(|| format!("writing {}", output.display()))?;
            match onnx_import::import_bytes(&out) {
                Ok(_) => println!("{}: annotated; scx_arbor accepts it", output.display()),
                Err(e) => println!(
                    "{}: annotated, but scx_arbor still refuses it: {e:#}",
                    output.display()
                ),
            }
            Ok(())
        }
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Confusion matrix `[actual][predicted]`.
type Confusion = [[usize; NR_CLASSES]; NR_CLASSES];

fn confusion_text(m: &Confusion) -> String {
    let mut s = format!("{:>14}", "actual \\ pred");
    for n in CLASS_NAMES {
        s.push_str(&format!("{n:>8}"));
    }
    s.push('\n');
    for (a, row) in m.iter().enumerate() {
        s.push_str(&format!("{:>14}", CLASS_NAMES[a]));
        for v in row {
            s.push_str(&format!("{v:>8}"));
        }
        s.push('\n');
    }
    s
}

/// The confusion matrix as the cost model counts it (`[predicted][actual]`).
fn costed(conf: &Confusion) -> learn::cost::Confusion {
    let mut c = learn::cost::Confusion::default();
    for (a, row) in conf.iter().enumerate() {
        for (p, &n) in row.iter().enumerate() {
            c.m[p][a] = n as u64;
        }
    }
    c
}

fn train(
    csv: &std::path::Path,
    out: &std::path::Path,
    params: CartParams,
    holdout: f64,
    seed: u64,
) -> Result<()> {
    if !(0.0..1.0).contains(&holdout) {
        bail!("--holdout must be in [0, 1)");
    }
    let table = Table::read(csv)?;
    let x = table.feature_rows()?;
    let y: Vec<u8> = table
        .u32_column("actual")?
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            u8::try_from(c)
                .ok()
                .filter(|&c| (c as usize) < NR_CLASSES)
                .with_context(|| format!("row {}: actual = {c} is not a class", i + 2))
        })
        .collect::<Result<_>>()?;
    // Deterministic shuffle, then the first `holdout` share is held out.
    let mut order: Vec<usize> = (0..x.len()).collect();
    SplitMix64::new(seed).shuffle(&mut order);
    let n_test = (x.len() as f64 * holdout).round() as usize;
    let (test, fit) = order.split_at(n_test);
    let fx: Vec<Row> = fit.iter().map(|&i| x[i]).collect();
    let fy: Vec<u8> = fit.iter().map(|&i| y[i]).collect();
    let start = Instant::now();
    let e = learn::train(&fx, &fy, &params)?;
    let took = start.elapsed();
    let st = e.validate()?;
    println!(
        "trained on {} samples in {:.1} ms: {} nodes, {} leaves, depth {}",
        fx.len(),
        took.as_secs_f64() * 1e3,
        st.nodes,
        st.leaves,
        st.max_depth
    );
    let m = flat::flatten(&e, 1)?;
    let eval: Vec<usize> = if test.is_empty() {
        println!("no held-out samples (--holdout 0): evaluating on the training set");
        fit.to_vec()
    } else {
        test.to_vec()
    };
    let mut conf: Confusion = [[0; NR_CLASSES]; NR_CLASSES];
    for &i in &eval {
        let p = flat::walk(&m, &x[i]).map_err(|f| anyhow::anyhow!("walk fault {f:?}"))?;
        conf[y[i] as usize][p.class] += 1;
    }
    let right: usize = (0..NR_CLASSES).map(|c| conf[c][c]).sum();
    println!(
        "held-out accuracy: {right}/{} = {:.2}%",
        eval.len(),
        100.0 * right as f64 / eval.len().max(1) as f64
    );
    print!("{}", confusion_text(&conf));
    // scx_arbor's own figures of a model (the live score's, docs/learning.md):
    // the cost-weighted score and the balanced accuracy.
    let costed = costed(&conf);
    if let (Some(score), Some(balanced)) = (costed.score(), costed.balanced_accuracy()) {
        println!(
            "held-out score: {score:.2} points (cost-weighted), balanced accuracy {balanced:.2}%"
        );
    }
    onnx_export::write_file(&e, out)?;
    println!("wrote {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The score of `model train` as docs/learning.md defines it: a
    /// prediction too high costs 2 per class of distance, too low 1;
    /// score = 100 x (1 - mean cost / 6).
    #[test]
    fn train_scores_over_prediction_twice_as_dear() {
        // Every actual tiny burst predicted long: cost 6, score 0.
        let mut conf: Confusion = [[0; NR_CLASSES]; NR_CLASSES];
        conf[0][3] = 10;
        assert_eq!(costed(&conf).score(), Some(0.0));
        // Every actual long burst predicted tiny: cost 3, score 50.
        let mut conf: Confusion = [[0; NR_CLASSES]; NR_CLASSES];
        conf[3][0] = 10;
        assert_eq!(costed(&conf).score(), Some(50.0));
        // Half right, half one class too high (cost 2): mean 1, score 83.33.
        let mut conf: Confusion = [[0; NR_CLASSES]; NR_CLASSES];
        conf[1][1] = 5;
        conf[1][2] = 5;
        let s = costed(&conf).score().unwrap();
        assert!((s - 100.0 * (1.0 - 1.0 / 6.0)).abs() < 1e-9, "{s}");
    }
}
