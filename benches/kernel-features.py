#!/usr/bin/env python3
"""What scx_arbor's BPF object needs from a kernel, and what each kernel lacks.

Usage: kernel-features.py --obj bpf.bpf.o [--repo DIR] LABEL=KERNEL ...
  KERNEL: raw BTF (build-kernel.sh's vmlinux.btf), an ELF vmlinux, or a
          bzImage/vmlinuz (its payload is unpacked to find .BTF).
  --obj   the compiled BPF object (target/*/build/scx_arbor-*/out/bpf.bpf.o)
  --repo  the checkout whose bpf/ and src/ are read (default: this one)
  --markdown  print Markdown tables instead of plain text

Reads, for each kernel, its BTF with `bpftool btf dump file`, and checks:
  - every kfunc the object declares (libbpf strips the last ___suffix to find
    the kernel's name), grouped by the API bpf/ calls and the alternatives the
    scx compat headers try in order (table API below, from scx_utils 1.1.4's
    scx/compat.bpf.h): the first one present is what runs; "fallback" means a
    path without a kfunc; MISSING means no alternative and no fallback;
  - strong (non-weak) externs: libbpf refuses to load when one is absent;
  - the sched_ext_ops fields bpf/main.bpf.c's SCX_OPS_DEFINE sets and the ones
    scx_utils/loader.rs set (flags, hotplug_seq, exit_dump_len, timeout_ms);
  - the scx_ops_flags src/ asks for (compat::SCX_OPS_*: 0 when absent);
  - every SCX_* enum value bpf/ uses (scx_utils imports them; an absent one
    reads as 0).
Exit 0; the verdict is in the output (lines with MISSING).
"""
import argparse
import collections
import lzma
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib

# API (what bpf/ calls) -> alternatives in the order the compat wrapper tries
# them, as (object extern name, since), then the fallback without a kfunc (or
# None: the last alternative is called unguarded and must exist).
API = [
    ("scx_bpf_select_cpu_and", [
        ("__scx_bpf_select_cpu_and", "6.19, with struct scx_bpf_select_cpu_and_args"),
        ("scx_bpf_select_cpu_and___compat", "6.16"),
    ], "bpf/compat.bpf.h: scx_bpf_select_cpu_dfl() in select_cpu; prev's CPU, an idle core, any idle CPU in enqueue"),
    ("scx_bpf_dsq_insert", [
        ("scx_bpf_dsq_insert___v2___compat", "6.19"),
        ("scx_bpf_dsq_insert___v1", "6.13"),
        ("scx_bpf_dispatch___compat", "<= 6.12 name"),
    ], None),
    ("scx_bpf_dsq_insert_vtime", [
        ("__scx_bpf_dsq_insert_vtime", "6.19, with struct scx_bpf_dsq_insert_vtime_args"),
        ("scx_bpf_dsq_insert_vtime___compat", "6.13"),
        ("scx_bpf_dispatch_vtime___compat", "<= 6.12 name"),
    ], None),
    ("scx_bpf_dsq_move_to_local", [
        ("scx_bpf_dsq_move_to_local___v2___compat", "7.1"),
        ("scx_bpf_dsq_move_to_local___v1", "6.13"),
        ("scx_bpf_consume___old", "<= 6.12 name"),
    ], None),
    ("scx_bpf_dsq_move", [
        ("scx_bpf_dsq_move___new", "6.13"),
        ("scx_bpf_dispatch_from_dsq___old", "6.12 name"),
    ], "returns false: the task is never moved"),
    ("scx_bpf_now", [("scx_bpf_now", "6.14")],
     "bpf_ktime_get_ns() (not the rq clock)"),
    ("scx_bpf_task_set_slice", [("scx_bpf_task_set_slice___new", "6.19")],
     "writes p->scx.slice directly"),
    ("__COMPAT_scx_bpf_dsq_peek", [("scx_bpf_dsq_peek", "6.19, used from 7.1")],
     "first task through bpf_iter_scx_dsq"),
    ("scx_bpf_reenqueue_local", [
        ("scx_bpf_dsq_reenq___compat", "7.1"),
        ("scx_bpf_reenqueue_local___v2___compat", "6.19"),
        ("scx_bpf_reenqueue_local___v1", "6.12, from ops.cpu_release only"),
    ], None),
]
# Object externs that belong to an API above but are not called by arbor's
# code paths (declared by the compat header next to one that is).
ALSO_DECLARED = {
    "scx_bpf_dsq_move_vtime___new", "scx_bpf_dispatch_vtime_from_dsq___old",
    "scx_bpf_dsq_move_set_vtime___new", "scx_bpf_dispatch_from_dsq_set_vtime___old",
}
# Fields of sched_ext_ops that userspace sets (scx_utils macros, loader.rs).
USER_OPS_FIELDS = ["flags", "hotplug_seq", "exit_dump_len", "timeout_ms", "name"]
# Types the compat wrappers probe with bpf_core_type_exists().
CORE_TYPES = ["scx_bpf_select_cpu_and_args", "scx_bpf_dsq_insert_vtime_args"]


def kernel_name(ext):
    """libbpf's essential name: cut at the last '___' flavor separator."""
    for i in range(len(ext) - 5, -1, -1):
        s = ext[i:i + 5]
        if s[0] != "_" and s[1:4] == "___" and s[4] != "_":
            return ext[:i + 1]
    return ext


def unpack_bzimage(path, tmpdir):
    """The vmlinux ELF inside a bzImage (payload gzip, xz or zstd)."""
    data = open(path, "rb").read()
    if data[:4] == b"\x7fELF":
        return path
    out = os.path.join(tmpdir, "vmlinux")
    for magic, kind in ((b"\x28\xb5\x2f\xfd", "zstd"), (b"\xfd7zXZ\x00", "xz"), (b"\x1f\x8b\x08", "gzip")):
        start = 0
        while True:
            i = data.find(magic, start)
            if i < 0:
                break
            start = i + 1
            try:
                if kind == "gzip":
                    raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[i:])
                elif kind == "xz":
                    raw = lzma.LZMADecompressor().decompress(data[i:])
                else:
                    if not shutil.which("zstd"):
                        continue
                    raw = subprocess.run(["zstd", "-dc"], input=data[i:], capture_output=True).stdout
            except Exception:
                continue
            if raw[:4] == b"\x7fELF":
                open(out, "wb").write(raw)
                return out
    sys.exit(f"kernel-features: no vmlinux ELF found inside {path}")


def is_raw_btf(path):
    with open(path, "rb") as f:
        return f.read(2) == b"\x9f\xeb"


class Btf:
    def __init__(self, path):
        self.funcs = set()
        self.structs = collections.defaultdict(list)
        self.enums = {}  # value name -> (enum name, value)
        self.types = set()
        txt = subprocess.run(["bpftool", "btf", "dump", "file", path], check=True,
                             capture_output=True, text=True).stdout
        cur = None
        for line in txt.splitlines():
            if line.startswith("["):
                cur = None
                m = re.match(r"\[\d+\] (\w+) '([^']*)'", line)
                if not m:
                    continue
                kind, name = m.groups()
                if kind == "FUNC":
                    self.funcs.add(name)
                elif kind in ("STRUCT", "UNION"):
                    self.types.add(name)
                    cur = ("s", name)
                elif kind in ("ENUM", "ENUM64"):
                    self.types.add(name)
                    cur = ("e", name)
                elif kind == "TYPEDEF":
                    self.types.add(name)
            elif cur and line.startswith("\t'"):
                m = re.match(r"\t'([^']*)'(?: val=(-?\d+))?", line)
                if not m:
                    continue
                if cur[0] == "s":
                    self.structs[cur[1]].append(m.group(1))
                elif m.group(2) is not None:
                    self.enums[m.group(1)] = (cur[1], int(m.group(2)))


def object_externs(obj):
    """{extern name: weak?} of the BPF object's undefined kfunc/kconfig symbols."""
    out = subprocess.run(["readelf", "-sW", obj], capture_output=True, text=True).stdout
    ext = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 8 and f[6] == "UND" and f[7]:
            ext[f[7]] = f[4] == "WEAK"
    return ext


def repo_uses(repo):
    bpf = ""
    for n in sorted(os.listdir(os.path.join(repo, "bpf"))):
        if n.endswith((".c", ".h")):
            bpf += open(os.path.join(repo, "bpf", n)).read()
    m = re.search(r"SCX_OPS_DEFINE\([^,]+,(.*?)\);", bpf, re.S)
    ops = re.findall(r"\.(\w+)\s*=", m.group(1)) if m else []
    src = ""
    for d, _, files in os.walk(os.path.join(repo, "src")):
        for n in files:
            if n.endswith(".rs"):
                src += open(os.path.join(d, n)).read()
    flags = sorted(set(re.findall(r"compat::(SCX_OPS_\w+)", src)))
    consts = sorted(set(re.findall(r"\b(SCX_[A-Z0-9_]+)\b", bpf)))
    return ops, flags, consts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--obj", required=True)
    ap.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("kernels", nargs="+", help="LABEL=PATH")
    a = ap.parse_args()
    if not shutil.which("bpftool"):
        sys.exit("kernel-features: bpftool not found (bookworm-backports has 7.5)")
    ext = object_externs(a.obj)
    ops, flags, consts = repo_uses(a.repo)
    ops_all = [o for o in ops if o != "name"] + USER_OPS_FIELDS
    grouped = {alt for _, alts, _ in API for alt, _ in alts} | ALSO_DECLARED
    plain = sorted(e for e in ext if e not in grouped and not e.startswith("CONFIG_") and e != "LINUX_KERNEL_VERSION")

    tmp = tempfile.mkdtemp(prefix="kfeat.")
    kernels = []
    for spec in a.kernels:
        label, _, path = spec.partition("=")
        if not os.path.exists(path):
            sys.exit(f"kernel-features: {path} not found")
        p = path if is_raw_btf(path) else unpack_bzimage(path, tmp)
        kernels.append((label, Btf(p)))
    shutil.rmtree(tmp, ignore_errors=True)
    consts = [c for c in consts if any(c in b.enums for _, b in kernels)]

    md = a.markdown
    for label, b in kernels:
        print(f"\n### {label}\n" if md else f"\n== {label}")
        missing = []
        rows = []
        for api, alts, fallback in API:
            used = api in ("__COMPAT_scx_bpf_dsq_peek",) or any(alt in ext for alt, _ in alts)
            if not used:
                continue
            have = [(alt, since) for alt, since in alts if kernel_name(alt) in b.funcs]
            if have:
                alt, since = have[0]
                verdict = f"ok: {kernel_name(alt)} ({since})"
            elif fallback:
                verdict = f"no kfunc; compat fallback: {fallback}"
                missing.append((api, "kfunc", "fallback in scx compat.bpf.h: " + fallback))
            else:
                last = kernel_name(alts[-1][0])
                verdict = f"MISSING: none of {', '.join(kernel_name(x) for x, _ in alts)}; the wrapper calls {last} unguarded (load fails)"
                missing.append((api, "kfunc", "no fallback: needs one of ours"))
            rows.append((api, verdict))
        for e in plain:
            k = kernel_name(e)
            if k in b.funcs:
                continue
            how = "weak, unguarded call: verifier rejects" if ext[e] else "strong extern: libbpf refuses to load"
            rows.append((e, f"MISSING ({how})"))
            missing.append((e, "kfunc", "no fallback: " + how))
        kops = set(b.structs.get("sched_ext_ops", []))
        for o in ops_all:
            if o not in kops:
                rows.append((f"sched_ext_ops.{o}", "MISSING"))
                missing.append((f"sched_ext_ops.{o}", "ops field", "libbpf fails on a set field the kernel lacks"))
        for fl in flags:
            if fl not in b.enums:
                rows.append((fl, "absent: scx_utils reads 0, the flag is silently not set"))
                missing.append((fl, "ops flag", "scx_utils compat:: reads 0 (handled, behaviour differs)"))
        for c in consts:
            if c not in b.enums:
                rows.append((c, "absent: scx_utils imports 0"))
                missing.append((c, "enum", "imported as 0"))
        for t in CORE_TYPES:
            if t not in b.types:
                rows.append((f"struct {t}", "absent (bpf_core_type_exists false: the older kfunc is used)"))
        if md:
            print("| what | on this kernel |\n|---|---|")
            for w, v in rows:
                print(f"| `{w}` | {v} |")
            if not rows:
                print("| everything | present |")
        else:
            for w, v in rows:
                print(f"  {w}: {v}")
            if not rows:
                print("  everything present")
        n_hard = sum(1 for r in rows if r[1].startswith("MISSING"))
        print(f"{'' if md else '  '}summary {label}: {n_hard} missing without fallback, "
              f"{len(missing) - n_hard} absent with a fallback or default")


if __name__ == "__main__":
    main()
