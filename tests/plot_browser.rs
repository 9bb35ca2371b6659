//! The `ab --plot` SVG as a browser shows it: headless Chromium renders the
//! file to a PNG, and the checks are about the pixels, not about the SVG
//! text. Two arms with known, clearly separated latencies (one of them noisy
//! from round to round) must come out as two coloured curves in the right
//! order, per-round dots at the right heights, and legible text.
//!
//! Chromium is a test prerequisite (tests/vm/install-host-deps.sh installs
//! it); without it these tests fail.

use arbor_ab::plot::{arm_color, write_svg, PlotArm, SIZE};
use arbor_ab::sysfs::ScxSysfs;
use arbor_ab::{self as ab, AbArgs, AbEnv};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A decoded RGB screenshot.
struct Image {
    w: usize,
    h: usize,
    rgb: Vec<u8>,
}

impl Image {
    fn px(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.w + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Pixels of colour `c` (±12 per channel, antialiasing aside) in the
    /// rectangle x0..x1 × y0..y1.
    fn find(
        &self,
        c: [u8; 3],
        (x0, x1): (usize, usize),
        (y0, y1): (usize, usize),
    ) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for y in y0..y1.min(self.h) {
            for x in x0..x1.min(self.w) {
                let p = self.px(x, y);
                if (0..3).all(|k| p[k].abs_diff(c[k]) <= 12) {
                    v.push((x, y));
                }
            }
        }
        v
    }

    fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.w && y < self.h && self.px(x, y).iter().all(|&c| c < 110)
    }

    /// Dark pixels in the rectangle that are not part of a straight dark
    /// run of 25 px or more (axis lines, frames): the pixels of text.
    fn text(&self, (x0, x1): (usize, usize), (y0, y1): (usize, usize)) -> usize {
        let run = |x: usize, y: usize, dx: isize, dy: isize| {
            let mut n = 0;
            let (mut cx, mut cy) = (x as isize, y as isize);
            while cx >= 0 && cy >= 0 && self.is_dark(cx as usize, cy as usize) && n < 25 {
                n += 1;
                cx += dx;
                cy += dy;
            }
            n
        };
        let mut n = 0;
        for y in y0..y1.min(self.h) {
            for x in x0..x1.min(self.w) {
                if self.is_dark(x, y)
                    && run(x, y, 1, 0) + run(x, y, -1, 0) < 26
                    && run(x, y, 0, 1) + run(x, y, 0, -1) < 26
                {
                    n += 1;
                }
            }
        }
        n
    }
}

fn rgb(i: usize) -> [u8; 3] {
    let c = arm_color(i);
    [c.0, c.1, c.2]
}

/// Renders `svg` with headless Chromium at the SVG's own size and decodes
/// the screenshot (kept next to the SVG for a human to look at).
fn render(svg: &Path) -> Image {
    let png = svg.with_extension("png");
    let _ = std::fs::remove_file(&png);
    let profile = svg.with_extension("chromium-profile");
    let bin = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .unwrap_or_else(|| {
            panic!(
                "chromium not found: this test renders the plot in a real browser; \
                 install it with tests/vm/install-host-deps.sh (Debian package `chromium`)"
            )
        });
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--screenshot={}", png.display()),
            &format!("--window-size={},{}", SIZE.0, SIZE.1),
            &format!("file://{}", svg.display()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting chromium");
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish a screenshot in 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        status.success() && png.exists(),
        "chromium failed ({status}): {err}"
    );

    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let ch = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        c => panic!("unexpected PNG colour type {c:?}"),
    };
    let (w, h) = (info.width as usize, info.height as usize);
    let rgb = buf[..w * h * ch]
        .chunks(ch)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    eprintln!("screenshot: {}", png.display());
    Image { w, h, rgb }
}

fn out_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plot_browser");
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// `n` values spread evenly over [m/2, 3m/2): median m, quartiles m·3/4 and m·5/4.
fn around(m: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| m * (0.5 + i as f64 / n as f64)).collect()
}

/// Strip dots: (x centre, y centre) in pixels.
type Dots = Vec<(usize, f64)>;

/// Column groups of `pts` (split at gaps of more than 3 px), left to right,
/// each with the y centre of its widest rows (the dot, not the thin bar).
fn dots(pts: &[(usize, usize)]) -> Dots {
    let mut xs: Vec<usize> = pts.iter().map(|p| p.0).collect();
    xs.sort();
    xs.dedup();
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for x in xs {
        match groups.last_mut() {
            Some(g) if x <= g.1 + 3 => g.1 = x,
            _ => groups.push((x, x)),
        }
    }
    groups
        .into_iter()
        .map(|(a, b)| {
            let mut rows: std::collections::BTreeMap<usize, usize> = Default::default();
            for p in pts.iter().filter(|p| p.0 >= a && p.0 <= b) {
                *rows.entry(p.1).or_default() += 1;
            }
            let widest = *rows.values().max().unwrap();
            let wide: Vec<usize> = rows
                .iter()
                .filter(|(_, &n)| n + 2 >= widest)
                .map(|(&y, _)| y)
                .collect();
            assert!(
                widest >= 6,
                "group at x {a}..{b} is {widest} px wide: no dot"
            );
            (
                (a + b) / 2,
                wide.iter().sum::<usize>() as f64 / wide.len() as f64,
            )
        })
        .collect()
}

/// Strip dots of arm 0 and arm 1, left to right, after checking what holds
/// for any plot of a faster arm 0 and a slower arm 1 over `rounds` rounds:
/// the picture is not blank; both colours draw in both top panels; at the
/// median the faster CDF is left of the slower; the strip has one dot per
/// arm and round, arms side by side, every slower dot above every faster
/// one; the title, axis labels and legend names are there.
fn check_two_arms(img: &Image, rounds: usize) -> (Dots, Dots) {
    assert_eq!((img.w, img.h), (SIZE.0 as usize, SIZE.1 as usize));
    let (w, h) = (img.w, img.h);

    // Not blank: mostly white background, but a good amount drawn.
    let drawn = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| img.px(x, y) != [255, 255, 255])
        .count();
    assert!(
        drawn > w * h / 50 && drawn < w * h / 2,
        "{drawn} non-white pixels of {}",
        w * h
    );

    // Layout as the plot documents it: title band, CDF top left, tail top
    // right, per-round strip below (from 56 % of the height).
    let split = h * 56 / 100;
    let (left, right, top, strip) = ((0, w / 2), (w / 2, w), (30, split), (split, h));
    let (a, b) = (rgb(0), rgb(1));
    for (name, area) in [("CDF", left), ("tail", right)] {
        for (i, c) in [a, b].into_iter().enumerate() {
            let n = img.find(c, area, top).len();
            assert!(
                n > 200,
                "{name} panel: arm {i} colour {c:?} on {n} pixels only"
            );
        }
    }

    // The CDF at its median: halfway up the fast arm's curve, the fast arm
    // is well left of the slow one.
    let fa = img.find(a, left, top);
    let fb = img.find(b, left, top);
    let (ymin, ymax) = (
        fa.iter().map(|p| p.1).min().unwrap(),
        fa.iter().map(|p| p.1).max().unwrap(),
    );
    let mid = (ymin + ymax) / 2;
    let x_at = |pts: &[(usize, usize)]| {
        pts.iter()
            .filter(|p| p.1.abs_diff(mid) <= 2)
            .map(|p| p.0)
            .min()
            .unwrap_or_else(|| panic!("no curve pixel near row {mid}"))
    };
    let (xa, xb) = (x_at(&fa), x_at(&fb));
    assert!(
        xa + 100 < xb,
        "at the median row {mid} the fast arm is at x {xa}, the slow one at x {xb}"
    );

    // The strip: a dot per arm and round, every slow dot above every fast one.
    let sa = dots(&img.find(a, (0, w), strip));
    let sb = dots(&img.find(b, (0, w), strip));
    assert_eq!(sa.len(), rounds, "fast arm dots: {sa:?}");
    assert_eq!(sb.len(), rounds, "slow arm dots: {sb:?}");
    let top_fast = sa.iter().map(|d| d.1).fold(f64::INFINITY, f64::min);
    let low_slow = sb.iter().map(|d| d.1).fold(0.0, f64::max);
    assert!(
        low_slow + 50.0 < top_fast,
        "slow dots {sb:?} not above fast dots {sa:?}"
    );
    // Each round's two dots sit side by side, fast left of slow.
    for (da, db) in sa.iter().zip(&sb) {
        assert!(
            da.0 < db.0 && db.0 - da.0 < w / (2 * rounds),
            "round slot: {da:?} {db:?}"
        );
    }

    // Text: the title, axis labels under each row of panels and left of the
    // strip, and legend names next to the legend's colour swatches.
    let text = [
        ("title", img.text((w / 4, 3 * w / 4), (0, 30)), 100),
        (
            "x labels under the top panels",
            img.text((0, w), (split - 60, split)),
            300,
        ),
        (
            "x labels under the strip",
            img.text((0, w), (h - 50, h)),
            40,
        ),
        ("y labels left of the strip", img.text((0, 60), strip), 100),
    ];
    eprintln!("text pixels: {text:?}");
    for (what, n, min) in text {
        assert!(n > min, "{what}: {n} dark pixels, want > {min}");
    }
    for c in [a, b] {
        // A swatch is a horizontal run of at least 18 px of the colour; the
        // arm's name must be written right of it.
        let pts: std::collections::HashSet<(usize, usize)> =
            img.find(c, left, top).into_iter().collect();
        let legend = pts
            .iter()
            .filter(|p| (0..18).all(|k| pts.contains(&(p.0 + k, p.1))))
            .map(|p| img.text((p.0 + 20, p.0 + 80), (p.1 - 8, p.1 + 8)))
            .max()
            .unwrap_or_else(|| panic!("no legend swatch of {c:?} in the CDF panel"));
        assert!(
            legend > 15,
            "no legend text right of the {c:?} swatch ({legend} dark px)"
        );
    }
    (sa, sb)
}

#[test]
fn plot_renders_in_chromium_with_curves_dots_and_text() {
    // Arm 0 ("fast"): medians 80..130 µs, changing from round to round.
    // Arm 1 ("slow"): 1000 µs in every round.
    let fast_medians = [80.0, 120.0, 90.0, 130.0, 100.0, 110.0];
    let fast = PlotArm {
        name: "fast".into(),
        rounds: fast_medians
            .iter()
            .enumerate()
            .map(|(r, &m)| (r + 1, around(m, 400)))
            .collect(),
    };
    let slow = PlotArm {
        name: "slow".into(),
        rounds: (1..=6).map(|r| (r, around(1000.0, 400))).collect(),
    };
    let svg = out_dir("known.svg");
    write_svg(&svg, "plot_browser: known arms", "µs", &[fast, slow]).unwrap();
    let (sa, sb) = check_two_arms(&render(&svg), 6);

    // Noise is visible: the fast arm's dots move with its medians, in their
    // order (higher latency = higher = smaller y); the slow arm's stay level.
    let spread = |d: &[(usize, f64)]| {
        let ys = d.iter().map(|p| p.1);
        ys.clone().fold(0.0, f64::max) - ys.fold(f64::INFINITY, f64::min)
    };
    assert!(
        spread(&sb) <= 1.5,
        "slow arm's equal medians drawn at different heights: {sb:?}"
    );
    assert!(
        spread(&sa) >= 20.0,
        "fast arm's 80..130 µs medians look flat: {sa:?}"
    );
    let mut by_median: Vec<usize> = (0..6).collect();
    by_median.sort_by(|&i, &j| fast_medians[i].total_cmp(&fast_medians[j]));
    let ys: Vec<f64> = by_median.iter().map(|&i| sa[i].1).collect();
    assert!(
        ys.windows(2).all(|p| p[0] > p[1]),
        "dots out of median order: {sa:?}"
    );
}

/// A fake sched_ext: `state` and `root/ops` written the way the kernel does
/// when the "scheduler" (this script) attaches, `disabled` on SIGINT.
const FAKE_SCHED: &str = r#"
root=$1; shift
trap 'echo disabled > "$root/state"; rm -f "$root/root/ops"; exit 0' INT TERM
sleep 0.05; echo arbor_plot_test > "$root/root/ops"; echo enabled > "$root/state"
while :; do sleep 0.05; done
"#;

/// `scx_arbor ab --plot` end to end against the fake sched_ext, with a
/// command that takes 0.05 s under EEVDF and 0.4 s while "arbor" is
/// attached (it looks at the fake `root/ops`): the rendered plot shows
/// eevdf as the faster arm, one dot per round.
#[test]
fn ab_plot_of_a_run_renders_in_chromium() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plot_browser-ab");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("root")).unwrap();
    std::fs::write(dir.join("state"), "disabled\n").unwrap();
    std::fs::write(dir.join("sched.sh"), FAKE_SCHED).unwrap();
    std::fs::write(dir.join("bpf_stats_enabled"), "0\n").unwrap();
    let env = AbEnv {
        sysfs: ScxSysfs::new(&dir),
        sched_exe: "/bin/sh".into(),
        sched_prefix_args: vec![
            dir.join("sched.sh").display().to_string(),
            dir.display().to_string(),
        ],
        ops_prefix: "arbor".into(),
        prog_prefix: "arbor_".into(),
        bpf_stats_sysctl: dir.join("bpf_stats_enabled"),
        stats_socket: dir.join("no-stats-here"),
        require_root: false,
        install_signal_handler: false,
        stop: Arc::new(AtomicBool::new(false)),
        print: false,
        socket_wait: Duration::ZERO,
    };
    let svg = out_dir("ab.svg");
    let cmd = format!(
        "if [ -s {}/root/ops ]; then sleep 0.4; else sleep 0.05; fi",
        dir.display()
    );
    let argv = [
        "ab",
        "--rounds",
        "3",
        "--warmup",
        "0.1",
        "--plot",
        svg.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &cmd,
    ];
    // Default arms: eevdf (colour 0), arbor (colour 1).
    let args = Cli::try_parse_from(argv).unwrap().ab;
    let out = ab::run_with(&args, &env).unwrap();
    assert!(out.error.is_none(), "{:?}", out.error);
    check_two_arms(&render(&svg), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    ab: AbArgs,
}
