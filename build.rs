// Builds the BPF policy (bpf/main.bpf.c) into a libbpf-rs skeleton and
// generates Rust bindings for the shared interface (bpf/intf.h).
fn main() {
    scx_cargo::BpfBuilder::new()
        .expect("scx_cargo BpfBuilder (is BPF_CLANG set to clang >= 18?)")
        .enable_intf("bpf/intf.h", "bpf_intf.rs")
        .enable_skel("bpf/main.bpf.c", "bpf")
        .build()
        .expect("building the BPF scheduler");
    println!("cargo:rerun-if-changed=bpf");
}
