//! Harness self-test: the pinned kernel boots in QEMU from our initramfs with
//! everything the scheduler scenarios rely on (no scheduler attached).

#[path = "common/vm.rs"]
mod vm;

use std::time::Duration;

#[test]
fn vm_boots_with_sched_ext_and_tools() {
    let c = vm::run_scenario("boot", &[("echo", "hello")], Duration::from_secs(60));
    c.assert_exit_ok();

    let init = c.mark("init");
    assert_eq!(
        init.str("kernel"),
        "7.3.4+deb13-cloud-amd64",
        "unexpected guest kernel"
    );
    assert_eq!(init.u64("nr_cpus"), 2);

    let boot = c.mark("boot");
    assert_eq!(
        boot.str("state"),
        "disabled",
        "sched_ext must exist and be idle at boot"
    );
    assert_eq!(boot.str("ops"), "none");

    let tools = c.mark("tools");
    for t in ["scx_arbor", "stress_ng", "hackbench"] {
        assert_eq!(tools.str(t), "1", "{t} missing from the initramfs");
    }
    assert_eq!(
        c.mark("loader").u64("missing_libs"),
        0,
        "scx_arbor's libraries do not resolve in the guest"
    );
    let config = c.mark("config");
    assert_eq!(
        config.str("boot_config"),
        "1",
        "/boot/config-$(uname -r) missing"
    );
    assert_eq!(
        config.str("sched_class_ext"),
        "1",
        "guest kernel lacks CONFIG_SCHED_CLASS_EXT=y"
    );
    let mounts = c.mark("mounts");
    for m in ["bpf", "tracefs", "debugfs", "tmp", "run"] {
        assert_eq!(mounts.str(m), "1", "{m} is not mounted in the guest");
    }
    let files = c.mark("files");
    assert_eq!(files.str("ftrace_enabled"), "1");
    assert_eq!(files.str("hotplug_seq"), "1");
    assert_eq!(
        c.mark("args").str("echo"),
        "hello",
        "kernel command line argument not passed"
    );
    let w = c.mark("workload");
    assert_eq!(w.i64("hackbench_rc"), 0);
    assert_eq!(w.i64("stress_ng_rc"), 0);
}
