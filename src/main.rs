mod bpf_intf;
mod bpf_skel;
mod schema;

fn main() {}
