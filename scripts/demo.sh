#!/bin/bash
# make demo: run the bundled leaking demo under memtraced and ask it
# questions while it runs, the way a user would from a second terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${MT_BUILD:-build}
dir=$(mktemp -d /tmp/memtrace-demo.XXXXXX)
sock=$dir/memtraced.sock
daemon=
cleanup() {
	if [ -n "$daemon" ]; then
		kill "$daemon" 2>/dev/null || true
		wait "$daemon" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

ctl() {
	echo
	echo "\$ memtracectl $*"
	"$B/memtracectl" -s "$sock" "$@"
}

echo "\$ memtraced -s $sock --ceiling 512M --linger --summary -- demo -d 25 &"
"$B/memtraced" -s "$sock" --ceiling 512M --linger --summary \
	-- "$B/targets/demo" -d 25 >"$dir/demo.out" &
daemon=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done

sleep 8
ctl status
ctl threads
ctl outstanding --class chunk --limit 8
sleep 8
ctl status
ctl events --syscall mmap --limit 3
echo
echo "(waiting for the demo to finish; memtraced lingers so its last state can be read)"
until "$B/memtracectl" -s "$sock" --json status 2>/dev/null | grep -q '"state":"exited"'; do
	kill -0 "$daemon" 2>/dev/null || break
	sleep 0.5
done
ctl alerts
ctl stacks --class chunk --limit 1
ctl stop
wait $daemon || true
daemon=
echo
tail -n 3 "$dir/demo.out"
