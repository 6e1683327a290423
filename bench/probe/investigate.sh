#!/bin/bash
# investigate.sh - the experiments behind bench/RESULTS.md, in one go.
# usage: bench/probe/investigate.sh EXPERIMENTAL_MEMTRACED [REPS]
#   EXPERIMENTAL_MEMTRACED: a memtraced built with tracer-knobs.patch (see there)
# Needs build/bench/* (make bench builds them), strace, taskset, cc, libseccomp.
# IDLE_SPIN=1 adds the halted-vCPU experiment (burns both CPUs at SCHED_IDLE
# for a few seconds).  Every variant list runs interleaved (bench/probe/compare)
# at nice -15 to keep other load on the machine from dominating.
set -u
cd "$(dirname "$0")/../.."
X=${1:?usage: investigate.sh EXPERIMENTAL_MEMTRACED [REPS]}
R=${2:-9}
B=build/bench
P=$B/probe
mkdir -p "$P"
cc -O2 -o "$P/stopcost" bench/probe/stopcost.c
cc -O2 -o "$P/unotify" bench/probe/unotify.c
cc -O2 -o "$P/idlespin" bench/probe/idlespin.c
cc -O2 -o "$P/filterfloor" bench/probe/filterfloor.c $(pkg-config --cflags --libs libseccomp)
ST="strace -f --seccomp-bpf -e trace=mmap,munmap,mremap,mprotect,brk -o /dev/null"
C="nice -n -15 bench/probe/compare -r $R"
MT="$X --no-socket"

echo "# $(date -u '+%F %T UTC'); $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"

echo; echo "## stop cost microbenchmark (us per getppid call, 7 runs sorted)"
for a in "-u" "-1 -T 0 -C 0" "-T 0 -C 0" "-1 -T 0 -C 1" "-T 0 -C 1" "-1" "" \
	 "-s 30 -T 0 -C 0" "-s 30 -T 0 -C 1" "-s 30"; do
	printf '%-24s' "stopcost $a"
	for i in 1 2 3 4 5 6 7; do nice -n -15 "$P/stopcost" -n 20000 $a | sed 's/.*: //; s/ us.call//'; done |
		sort -n | tr '\n' ' '; echo
done
for a in "-T 0 -C 0" "" "-T 0 -C 1"; do
	printf '%-24s' "gap 1ms: stopcost $a"
	for i in 1 2 3 4 5; do nice -n -15 "$P/stopcost" -n 500 -g 1000 $a | sed 's/.*: //; s/ us.call//'; done |
		sort -n | tr '\n' ' '; echo
done
if [ "${IDLE_SPIN:-0}" = 1 ]; then
	# Keep both vCPUs from halting (SCHED_IDLE spinners) and measure again.
	"$P/idlespin" 0 60 & s0=$!
	"$P/idlespin" 1 60 & s1=$!
	for a in "-1 -T 0 -C 1" "-T 0 -C 1" "-1 -T 0 -C 0"; do
		printf '%-24s' "spinners: stopcost $a"
		for i in 1 2 3 4 5; do nice -n -15 "$P/stopcost" -n 20000 $a | sed 's/.*: //; s/ us.call//'; done |
			sort -n | tr '\n' ' '; echo
	done
	kill $s0 $s1; wait $s0 $s1 2>/dev/null
fi
for a in "" "-w" "-T 0 -C 0" "-w -T 0 -C 1"; do
	printf '%-24s' "unotify $a"
	for i in 1 2 3 4 5 6 7; do nice -n -15 timeout 60 "$P/unotify" -n 20000 $a | sed 's/.*: //; s/ us.call//'; done |
		sort -n | tr '\n' ' '; echo
done

echo; echo "## chunk 5000 (20000 memory syscalls + ~20)"
W="$B/chunk 5000"
$C "untraced::$W" "mt::$MT -- $W" "mt stacks none::$MT --stacks none -- $W" \
	"mt all cpu0::taskset -c 0 $MT -- $W" "mt all cpu0, stacks none::taskset -c 0 $MT --stacks none -- $W" \
	"mt tracer cpu0, target cpu1::taskset -c 0 $MT -- taskset -c 1 $W" \
	"mt noexit munmap::MT_NOEXIT=1 $MT -- $W" \
	"mt noexit munmap, stacks none::MT_NOEXIT=1 $MT --stacks none -- $W" \
	"mt noexit munmap, cpu0, stacks none::MT_NOEXIT=1 taskset -c 0 $MT --stacks none -- $W" \
	"mt noexit all (bound), stacks none::MT_NOEXIT=2 $MT --stacks none -- $W" \
	"mt spin 50us::MT_SPIN_US=50 $MT -- $W" "mt spin 50us in-syscall only::MT_SPIN_US=50 MT_SPIN_INSYS=1 $MT -- $W" \
	"mt no drain::MT_NODRAIN=1 $MT -- $W" \
	"strace::$ST $W" "strace all cpu0::taskset -c 0 $ST $W"
echo "perf stat, chunk 5000 under mt (unpinned, then all on cpu0):"
for pre in "" "taskset -c 0"; do
	nice -n -15 $pre perf stat -x, -e syscalls:sys_enter_wait4,syscalls:sys_enter_ptrace,context-switches,cpu-migrations,task-clock,user_time,system_time \
		-- $MT -- $W 2>&1 >/dev/null | awk -F, -v p="[$pre]" '{printf "  %s %s=%s", p, $3, $1} END {print ""}'
done

echo; echo "## server 600 (1200 memory syscalls + ~13)"
W="$B/server 600"
$C "untraced::$W" "filter only::$P/filterfloor $W" "mt::$MT -- $W" "mt noexit munmap::MT_NOEXIT=1 $MT -- $W" \
	"mt spin 30us in-syscall only::MT_SPIN_US=30 MT_SPIN_INSYS=1 $MT -- $W" \
	"mt all cpu0::taskset -c 0 $MT -- $W" "untraced cpu0::taskset -c 0 $W" \
	"mt noexit munmap, all cpu0::MT_NOEXIT=1 taskset -c 0 $MT -- $W" "strace::$ST $W"

echo; echo "## threads 5000"
W="$B/threads 5000"
$C "untraced::$W" "filter only::$P/filterfloor $W" "mt::$MT -- $W" "mt all cpu0::taskset -c 0 $MT -- $W" \
	"untraced cpu0::taskset -c 0 $W" "mt tracer pinned cpu0::MT_PIN=0 $MT -- $W" "strace::$ST $W"
echo "perf stat, threads 5000 under mt:"
nice -n -15 perf stat -x, -e syscalls:sys_enter_wait4,syscalls:sys_enter_ptrace,syscalls:sys_enter_process_vm_readv,context-switches,task-clock \
	-- $MT -- $W 2>&1 >/dev/null | awk -F, '{printf "  %s=%s", $3, $1} END {print ""}'
nice -n -15 perf stat -x, -e context-switches,task-clock -- $W 2>&1 >/dev/null | awk -F, '{printf "  untraced %s=%s", $3, $1} END {print ""}'

echo; echo "## java -version"
W="java -version"
$C "untraced::$W" "filter only::$P/filterfloor $W" "mt::$MT -- $W" "mt stacks none::$MT --stacks none -- $W" \
	"mt noexit munmap+mprotect::MT_NOEXIT=3 $MT -- $W" \
	"mt noexit munmap+mprotect, stacks none::MT_NOEXIT=3 $MT --stacks none -- $W" \
	"mt all cpu0::taskset -c 0 $MT -- $W" "untraced cpu0::taskset -c 0 $W" "strace::$ST $W"

echo; echo "## getppid 1000000"
W="$B/getppid 1000000"
$C "untraced::$W" "filter only::$P/filterfloor $W" "mt::$MT -- $W"
echo; echo "# done $(date -u '+%T UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
