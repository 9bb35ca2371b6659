//! Options of the workload families (requests, fanout, phases) that no
//! other workload has, shared by `scx_arbor ab` and `scx_arbor workload`.
//! The options they share with the older workloads (`--hogs`, `--workers`,
//! `--period-us`, `--burst-us`) stay where they were and are passed in.

use serde::Serialize;

use crate::fanout::FanoutConfig;
use crate::phases::PhasesConfig;
use crate::requests::RequestsConfig;

/// The families' own options.
#[derive(clap::Args, Debug, Clone, Serialize)]
#[command(next_help_heading = "Workload families (requests, fanout, phases)")]
pub struct FamilyArgs {
    /// requests: target CPU utilisation of the workers as a share of all
    /// CPUs (0.5 on 2 CPUs: one CPU's worth of service). The arrival rate is
    /// load × CPUs / mean service time; above 1 the queue grows without bound.
    #[arg(long, value_name = "SHARE", default_value_t = 0.5)]
    pub load: f64,

    /// requests: service CPU time of a short request (a cache hit), µs.
    #[arg(long, value_name = "US", default_value_t = 100)]
    pub short_us: u64,

    /// requests: service CPU time of a long request (a miss), µs.
    #[arg(long, value_name = "US", default_value_t = 4000)]
    pub long_us: u64,

    /// requests: share of long requests, in [0, 1).
    #[arg(long, value_name = "SHARE", default_value_t = 0.1)]
    pub long_share: f64,

    /// requests: long requests come in runs of at most K per worker (a miss
    /// storm), so a worker's last requests predict its next; 0: every
    /// request is long independently with --long-share. The share of long
    /// requests stays --long-share either way.
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub long_runs: u32,

    /// requests, with --long-runs: chance that a worker's request after a
    /// long one is long again (until the run reaches K).
    #[arg(long, value_name = "P", default_value_t = 0.8)]
    pub long_runs_p: f64,

    /// fanout: period of the dispatcher's rounds, µs (off multiples of the
    /// tick, like the wakers' periods).
    #[arg(long, value_name = "US", default_value_t = 10007)]
    pub fanout_period_us: u64,

    /// fanout: batch sizes, comma-separated: each round wakes one of these
    /// many workers (drawn with --batch-p). There are as many workers as
    /// the largest batch.
    #[arg(
        long,
        value_name = "N[,N...]",
        value_delimiter = ',',
        default_value = "2,8"
    )]
    pub batch: Vec<usize>,

    /// fanout: probability of each --batch size, comma-separated (weights,
    /// normalised). Default: all sizes equally likely.
    #[arg(long, value_name = "P[,P...]", value_delimiter = ',')]
    pub batch_p: Vec<f64>,

    /// fanout: the dispatcher's CPU time after the fan-out per woken
    /// worker, µs: a big batch means a long dispatcher burst beside the
    /// workers it woke.
    #[arg(long, value_name = "US", default_value_t = 400)]
    pub post_us: u64,

    /// fanout: CPU time each woken worker burns, µs.
    #[arg(long, value_name = "US", default_value_t = 200)]
    pub work_us: u64,

    /// phases: threads that alternate between interactive and batch phases.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub tasks: usize,

    /// phases: length of each phase, ms; task i's phases are shifted by
    /// i × 2 × this / --tasks.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub phase_ms: u64,

    /// phases: CPU time of a batch burst, µs.
    #[arg(long, value_name = "US", default_value_t = 8000)]
    pub batch_burst_us: u64,

    /// phases: sleep between batch bursts, µs.
    #[arg(long, value_name = "US", default_value_t = 500)]
    pub batch_sleep_us: u64,

    /// phases: interactive wakeups within this long after a switch to
    /// interactive are also reported on their own, ms.
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub switch_window_ms: u64,
}

/// The options the families share with the older workloads.
#[derive(Clone, Debug)]
pub struct Shared<'a> {
    pub cpus: usize,
    pub hogs: Option<usize>,
    pub workers: Option<usize>,
    pub period_us: &'a [u64],
    pub burst_us: u64,
    pub seed: u64,
}

impl FamilyArgs {
    /// requests: --workers default 2 × CPUs, --hogs default 1.
    pub fn requests(&self, sh: &Shared) -> RequestsConfig {
        RequestsConfig {
            workers: sh.workers.unwrap_or(2 * sh.cpus),
            load: self.load,
            cpus: sh.cpus,
            short_us: self.short_us,
            long_us: self.long_us,
            long_share: self.long_share,
            long_runs: self.long_runs,
            long_runs_p: self.long_runs_p,
            hogs: sh.hogs.unwrap_or(1),
            seed: sh.seed,
        }
    }

    /// fanout: --hogs default the number of CPUs.
    pub fn fanout(&self, sh: &Shared) -> FanoutConfig {
        FanoutConfig {
            period_us: self.fanout_period_us,
            batch: self.batch.clone(),
            batch_p: self.batch_p.clone(),
            post_us: self.post_us,
            work_us: self.work_us,
            hogs: sh.hogs.unwrap_or(sh.cpus),
            seed: sh.seed,
        }
    }

    /// phases: --period-us and --burst-us as the latency mix's wakers,
    /// --hogs default 1.
    pub fn phases(&self, sh: &Shared) -> PhasesConfig {
        PhasesConfig {
            tasks: self.tasks,
            phase_ms: self.phase_ms,
            period_us: sh.period_us.to_vec(),
            burst_us: sh.burst_us,
            batch_burst_us: self.batch_burst_us,
            batch_sleep_us: self.batch_sleep_us,
            switch_window_ms: self.switch_window_ms,
            hogs: sh.hogs.unwrap_or(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        f: FamilyArgs,
    }

    fn parse(a: &[&str]) -> FamilyArgs {
        Cli::try_parse_from(std::iter::once("x").chain(a.iter().copied()))
            .unwrap()
            .f
    }

    fn shared(period: &[u64]) -> Shared<'_> {
        Shared {
            cpus: 2,
            hogs: None,
            workers: None,
            period_us: period,
            burst_us: 50,
            seed: 9,
        }
    }

    #[test]
    fn defaults_make_valid_configs() {
        let f = parse(&[]);
        let sh = shared(&[2017]);
        let r = f.requests(&sh);
        assert_eq!(
            (r.workers, r.hogs, r.short_us, r.long_us),
            (4, 1, 100, 4000)
        );
        assert_eq!((r.load, r.long_share, r.long_runs), (0.5, 0.1, 0));
        r.validate().unwrap();
        let fo = f.fanout(&sh);
        assert_eq!(
            (fo.period_us, fo.batch.clone(), fo.hogs),
            (10007, vec![2, 8], 2)
        );
        assert_eq!((fo.post_us, fo.work_us), (400, 200));
        assert_eq!(fo.probabilities(), vec![0.5, 0.5]);
        fo.validate().unwrap();
        let p = f.phases(&sh);
        assert_eq!((p.tasks, p.phase_ms, p.hogs), (4, 3000, 1));
        assert_eq!((p.period_us.clone(), p.burst_us), (vec![2017], 50));
        assert_eq!(
            (p.batch_burst_us, p.batch_sleep_us, p.switch_window_ms),
            (8000, 500, 200)
        );
        p.validate().unwrap();
    }

    #[test]
    fn options_reach_the_configs() {
        let f = parse(&[
            "--load",
            "0.7",
            "--short-us",
            "50",
            "--long-us",
            "3000",
            "--long-share",
            "0.2",
            "--long-runs",
            "3",
            "--long-runs-p",
            "0.6",
            "--fanout-period-us",
            "5003",
            "--batch",
            "1,4,16",
            "--batch-p",
            "0.5,0.3,0.2",
            "--post-us",
            "100",
            "--work-us",
            "80",
            "--tasks",
            "2",
            "--phase-ms",
            "500",
            "--batch-burst-us",
            "4000",
            "--batch-sleep-us",
            "250",
            "--switch-window-ms",
            "100",
        ]);
        let sh = Shared {
            hogs: Some(3),
            workers: Some(6),
            ..shared(&[1009, 3001])
        };
        let r = f.requests(&sh);
        assert_eq!(
            (r.workers, r.hogs, r.long_runs, r.long_runs_p),
            (6, 3, 3, 0.6)
        );
        assert_eq!(
            (r.load, r.short_us, r.long_us, r.long_share),
            (0.7, 50, 3000, 0.2)
        );
        let fo = f.fanout(&sh);
        assert_eq!(
            (fo.period_us, fo.batch.clone(), fo.hogs),
            (5003, vec![1, 4, 16], 3)
        );
        assert_eq!(fo.batch_p, vec![0.5, 0.3, 0.2]);
        assert_eq!((fo.post_us, fo.work_us, fo.seed), (100, 80, 9));
        let p = f.phases(&sh);
        assert_eq!(
            (p.tasks, p.phase_ms, p.period_us.clone()),
            (2, 500, vec![1009, 3001])
        );
        assert_eq!(
            (p.batch_burst_us, p.batch_sleep_us, p.switch_window_ms),
            (4000, 250, 100)
        );
        for bad in [
            ["--batch", "2,x"],
            ["--load", "much"],
            ["--batch-p", "0.5,,0.5"],
        ] {
            assert!(
                Cli::try_parse_from(std::iter::once("x").chain(bad)).is_err(),
                "{bad:?}"
            );
        }
    }
}
