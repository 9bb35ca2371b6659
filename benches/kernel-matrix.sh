#!/usr/bin/env bash
# Benchmark (not a test, not in tests/run-all.sh): scx_arbor on several kernel
# lines. Builds the kernels that are missing (tests/vm/build-kernel.sh: tens of
# minutes each on 2 cores, cached), then for each kernel boots the VM harness
# and runs
#   attach  tests/vm/run.sh attach: sched_ext enabled, clean exit; its log
#           line "verified insns: ..." is the verifier record
#   diag    only when attach failed: scx_arbor -v -v in the guest
#           (benches/kernel-matrix-guest.sh), the libbpf/verifier error
#   stress  tests/vm/run.sh load: 12 s of stress-ng --cpu 2 + hackbench under
#           scx_arbor with a model, still enabled after, clean exit
# and checks the kernel's BTF against what the BPF object needs
# (benches/kernel-features.py). Prints a table with every row; exits 1 when a
# kernel failed to attach or stress (2 when the matrix itself could not run).
#
# Usage: benches/kernel-matrix.sh [--bin PATH] [--obj BPF_OBJ] [--out DIR]
#                                 [--no-build] [LINE ...]
#   LINE     pinned (tests/vm/kernel.sha256) or a build-kernel.sh line (6.12,
#            7.2, 7.3); default: $ARBOR_MATRIX_LINES or "pinned 6.12 7.2"
#   --bin    the scheduler (default $ARBOR_BIN, else target/release/scx_arbor)
#   --obj    its BPF object (default: the newest
#            target/release/build/scx_arbor-*/out/bpf.bpf.o next to --bin)
#   --out    results (default: a new directory under ${TMPDIR:-/tmp}):
#            LABEL/{attach,diag,stress}/console.log, verifier-insns.txt,
#            features.md, table.md
#   --no-build  do not build missing kernels (their rows fail)
# A built kernel is booted through ARBOR_KERNEL_LINE; one whose sha256 is not
# the recorded one (tests/vm/kernel-matrix.sha256) still runs, with
# ARBOR_KERNEL_UNPINNED=1, and its row says so.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
vm="$root/tests/vm"
. "$vm/lib.sh"

bin= obj= out= build=1 lines=()
while [ $# -gt 0 ]; do
	case $1 in
	--bin) bin=$2; shift 2 ;;
	--obj) obj=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--no-build) build=0; shift ;;
	-h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "kernel-matrix: unknown option $1" >&2; exit 2 ;;
	*) lines+=("$1"); shift ;;
	esac
done
[ ${#lines[@]} -gt 0 ] || read -r -a lines <<<"${ARBOR_MATRIX_LINES:-pinned 6.12 7.2}"
bin=${bin:-${ARBOR_BIN:-$root/target/release/scx_arbor}}
[ -x "$bin" ] || { echo "kernel-matrix: no scheduler binary $bin (BPF_CLANG=clang-19 cargo build --release, or --bin)" >&2; exit 2; }
bin=$(realpath "$bin")
if [ -z "$obj" ]; then
	obj=$(ls -t "$(dirname "$bin")"/build/scx_arbor-*/out/bpf.bpf.o 2>/dev/null | head -n1)
fi
out=${out:-$(mktemp -d "${TMPDIR:-/tmp}/arbor-kmatrix.XXXXXX")}
mkdir -p "$out"
log() { echo "kernel-matrix: $*" >&2; }
log "binary $bin ($("$bin" --version 2>/dev/null | head -n1), sha256 $(sha256_of "$bin" | cut -c1-12)); results in $out"

# ---- kernels: build what is missing ----
declare -A src_of build_s_of sha_of krel_of unpinned_of
for l in "${lines[@]}"; do
	if [ "$l" = pinned ]; then
		krel_of[$l]=$("$vm/fetch-kernel.sh" --kver)
		src_of[$l]="Debian linux-binary-unsigned-${krel_of[$l]} (trixie-backports), Debian's cloud config"
		build_s_of[$l]=-
		sha_of[$l]=pinned
		continue
	fi
	if [ $build = 1 ]; then
		log "kernel line $l: tests/vm/build-kernel.sh $l (cached after the first build)"
		if ! "$vm/build-kernel.sh" "$l" >"$out/build-$l.path" 2>"$out/build-$l.log"; then
			tail -n 5 "$out/build-$l.log" >&2
			src_of[$l]="build failed: $(tail -n1 "$out/build-$l.log")"
			continue
		fi
	fi
	idx="$ARBOR_CACHE/kernels/line-$l"
	if [ ! -f "$idx" ]; then
		src_of[$l]="not built (tests/vm/build-kernel.sh $l)"
		continue
	fi
	krel=$(awk '{ print $2 }' "$idx")
	krel_of[$l]=$krel
	meta="$ARBOR_CACHE/kernels/$krel/meta"
	m() { sed -n "s/^$1=//p" "$meta"; }
	src_of[$l]="$(m package) $(m version) ($(m suite)), tinyconfig + $(m fragments | sed 's/ / + /g'), pahole $(m pahole), gcc $(m gcc)"
	build_s_of[$l]=$(m build_seconds)
	[ "$(m incremental)" = yes ] && build_s_of[$l]="${build_s_of[$l]} incremental"
	if ARBOR_KERNEL_LINE=$l "$vm/kernel-line.sh" >/dev/null 2>"$out/line-$l.err"; then
		sha_of[$l]=recorded
	else
		sha_of[$l]="not the recorded build"
		unpinned_of[$l]=1
		log "kernel line $l: $(cat "$out/line-$l.err"); running it with ARBOR_KERNEL_UNPINNED=1"
	fi
done

# ---- runs ----
# run LABEL LINE NAME SCENARIO ARGS...: one VM run into $out/LABEL/NAME.
run() {
	local label=$1 l=$2 name=$3
	shift 3
	local env=()
	[ "$l" = pinned ] || env+=(ARBOR_KERNEL_LINE="$l")
	[ -n "${unpinned_of[$l]:-}" ] && env+=(ARBOR_KERNEL_UNPINNED=1)
	env ${env[@]+"${env[@]}"} "$vm/run.sh" "$@" --bin "$bin" --out "$out/$label/$name" --quiet \
		>"$out/$label/$name.stdout" 2>"$out/$label/$name.stderr"
}
# mark_val CONSOLE TAG KEY: the value of KEY in the last "ARBOR-MARK TAG" line.
mark_val() {
	grep -a "ARBOR-MARK $2 " "$1" 2>/dev/null | tail -n1 | tr -d '\r' | tr ' ' '\n' | sed -n "s/^$3=//p"
}

declare -A attach_of stress_of insns_of err_of
failed=0
for l in "${lines[@]}"; do
	label=$l
	if [ -z "${krel_of[$l]:-}" ]; then
		attach_of[$l]="not run"; stress_of[$l]="not run"; err_of[$l]=${src_of[$l]}
		failed=1
		continue
	fi
	mkdir -p "$out/$label"
	log "$l (${krel_of[$l]}): attach"
	run "$label" "$l" attach attach --timeout 120
	rc=$?
	c="$out/$label/attach/console.log"
	state=$(mark_val "$c" attach state)
	xrc=$(mark_val "$c" sched_exit rc)
	insns=$(grep -a -o 'verified insns: .*' "$c" 2>/dev/null | head -n1 | tr -d '\r' | sed 's/^verified insns: //')
	insns_of[$l]=$insns
	if [ $rc = 0 ] && [ "$state" = enabled ] && [ "$xrc" = 0 ]; then
		attach_of[$l]="ok: enabled in $(mark_val "$c" attach ms) ms, exit 0"
	elif [ $rc = 2 ]; then
		attach_of[$l]="VM error: $(grep -m1 'run.sh: error' "$out/$label/attach.stderr" | cut -c1-160)"
		failed=1
	else
		attach_of[$l]="FAILED (state=${state:-?}, rc=$(mark_val "$c" attach rc))"
		failed=1
	fi
	if [[ ${attach_of[$l]} != ok* ]]; then
		log "$l: attach failed; the load error with -v -v"
		run "$label" "$l" diag "$here/kernel-matrix-guest.sh" --timeout 90
		d="$out/$label/diag/console.log"
		# libbpf's failure lines and the end of the rejected program's verifier log.
		err_of[$l]=$(tr -d '\r' <"$d" 2>/dev/null | awk '/^ARBOR-BEGIN vv-verdict/ { on = 1; next } /^ARBOR-END vv-verdict/ { on = 0 } on' |
			grep -v -E '^\s*$' | head -n 20)
		[ -n "${err_of[$l]}" ] || err_of[$l]="(no diagnosis: see $d)"
		stress_of[$l]="not run (no attach)"
		continue
	fi
	log "$l: stress (load, 12 s)"
	run "$label" "$l" stress load --arg load_secs=12 --timeout 150
	rc=$?
	c="$out/$label/stress/console.log"
	during=$(mark_val "$c" during state)
	after=$(mark_val "$c" after_load state)
	alive=$(mark_val "$c" after_load alive)
	loadrc=$(mark_val "$c" load rcs)
	hb=$(grep -a 'ARBOR-MARK hackbench ' "$c" 2>/dev/null | tail -n1 | tr -d '\r' | sed 's/.*hackbench //')
	xrc=$(mark_val "$c" sched_exit rc)
	if [ $rc = 0 ] && [ "$during" = enabled ] && [ "$after" = enabled ] && [ "$alive" = 1 ] && [ "$xrc" = 0 ]; then
		stress_of[$l]="ok: 12 s, enabled throughout, load rcs=$loadrc, hackbench $hb, exit 0"
	else
		stress_of[$l]="FAILED (rc=$rc during=${during:-?} after=${after:-?} alive=${alive:-?} load=${loadrc:-?} exit=${xrc:-?})"
		failed=1
	fi
done

# ---- features: what each kernel's BTF lacks ----
kf=()
for l in "${lines[@]}"; do
	[ -n "${krel_of[$l]:-}" ] || continue
	if [ "$l" = pinned ]; then
		kf+=("${krel_of[$l]}=$("$vm/fetch-kernel.sh")")
	else
		kf+=("${krel_of[$l]}=$ARBOR_CACHE/kernels/${krel_of[$l]}/vmlinux.btf")
	fi
done
if [ -n "$obj" ] && [ -f "$obj" ] && [ ${#kf[@]} -gt 0 ]; then
	python3 "$here/kernel-features.py" --markdown --obj "$obj" "${kf[@]}" >"$out/features.md" 2>&1 ||
		log "kernel-features.py failed (see $out/features.md)"
else
	echo "no BPF object found next to $bin (pass --obj)" >"$out/features.md"
fi

# ---- report ----
{
	echo "| kernel | source | build | attach | stress | verifier insns (total) |"
	echo "|---|---|---|---|---|---|"
	for l in "${lines[@]}"; do
		k=${krel_of[$l]:-$l}
		b=${build_s_of[$l]:--}
		if [ "$b" != - ]; then
			bs=${b%% *}
			inc=
			[ "$b" = "$bs" ] || inc=" (objects reused)"
			b="$((bs / 60)) min $((bs % 60)) s$inc"
		fi
		s=${src_of[$l]}
		[ "${sha_of[$l]:-}" = "not the recorded build" ] && s="$s; sha256 not the recorded one"
		tot=$(echo "${insns_of[$l]:-}" | tr ' ' '\n' | sed -n 's/^total=//p')
		echo "| $k | $s | $b | ${attach_of[$l]} | ${stress_of[$l]} | ${tot:--} |"
	done
	echo
	# Per program: one column per kernel that attached.
	progs=$(for l in "${lines[@]}"; do echo "${insns_of[$l]:-}" | tr ' ' '\n'; done | sed -n 's/=.*//p' | grep -v '^total$' | sort -u)
	if [ -n "$progs" ]; then
		printf '| program |'
		for l in "${lines[@]}"; do [ -n "${insns_of[$l]:-}" ] && printf ' %s |' "${krel_of[$l]}"; done
		echo
		printf '|---|'
		for l in "${lines[@]}"; do [ -n "${insns_of[$l]:-}" ] && printf -- '---:|'; done
		echo
		for p in $progs total; do
			printf '| %s |' "$p"
			for l in "${lines[@]}"; do
				[ -n "${insns_of[$l]:-}" ] || continue
				printf ' %s |' "$(echo "${insns_of[$l]}" | tr ' ' '\n' | sed -n "s/^$p=//p")"
			done
			echo
		done
		echo
	fi
	for l in "${lines[@]}"; do
		[ -n "${err_of[$l]:-}" ] || continue
		echo "${krel_of[$l]:-$l}: why it did not attach (scx_arbor -v -v, $out/$l/diag/console.log):"
		echo '```'
		echo "${err_of[$l]}"
		echo '```'
	done
} >"$out/table.md"
# The verifier record, in bpf/verifier-insns.txt's format.
for l in "${lines[@]}"; do
	[ -n "${insns_of[$l]:-}" ] || continue
	echo "${insns_of[$l]}" | tr ' ' '\n' | grep -v '^total=' | grep '=' |
		awk -v k="${krel_of[$l]}" -F= '{ print k, $1, $2 }'
done >"$out/verifier-insns.txt"

cat "$out/table.md"
echo
cat "$out/features.md"
echo
log "results: $out (table.md, features.md, verifier-insns.txt, LABEL/*/console.log)"
exit $failed
