#!/bin/bash
# make install into a DESTDIR puts exactly the expected files in place, with
# the unit's ExecStart following SBINDIR; make uninstall removes every one.
# Exit 0 pass, 77 skip, anything else fail.
set -u
cd "$(dirname "$0")/../.." || exit 1

for tool in make install sed; do
	command -v "$tool" >/dev/null || { echo "skip: $tool is missing"; exit 77; }
done

tmp=$(mktemp -d /tmp/memtrace-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# Everything under DIR that is not a directory, as "TYPE PATH" lines.
listing() {
	(cd "$1" && find . ! -type d -printf '%y %p\n' | sed 's|^\(.\) \./|\1 |' | LC_ALL=C sort)
}

dest=$tmp/root
if ! make -s install DESTDIR="$dest" PREFIX=/usr >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	echo "FAIL: make install"
	exit 1
fi

expected="f usr/bin/memtracectl
l usr/share/bash-completion/completions/memtraced
f usr/lib/systemd/system/memtraced@.service
f usr/sbin/memtraced
f usr/share/bash-completion/completions/memtracectl
f usr/share/man/man1/memtracectl.1
f usr/share/man/man5/memtraced.conf.5
f usr/share/man/man7/memtrace-protocol.7
f usr/share/man/man8/memtraced.8"
expected=$(LC_ALL=C sort <<<"$expected")
got=$(listing "$dest")
if [ "$got" != "$expected" ]; then
	bad "installed files differ from the expected list"
	diff <(echo "$expected") <(echo "$got") | sed 's/^/    /'
fi

for f in usr/sbin/memtraced usr/bin/memtracectl; do
	[ -x "$dest/$f" ] || bad "$f is not executable"
done
for f in usr/share/man/man1/memtracectl.1 usr/share/man/man8/memtraced.8 \
	usr/lib/systemd/system/memtraced@.service; do
	[ -e "$dest/$f" ] || continue
	mode=$(stat -c %a "$dest/$f")
	[ "$mode" = 644 ] || bad "$f has mode $mode, not 644"
done
[ "$(readlink "$dest/usr/share/bash-completion/completions/memtraced" 2>/dev/null)" = memtracectl ] ||
	bad "the memtraced completion is not a link to memtracectl"
grep -qx 'ExecStart=/usr/sbin/memtraced -c /etc/memtrace/%i.conf -s /run/memtrace/%i.sock --name %i' \
	"$dest/usr/lib/systemd/system/memtraced@.service" 2>/dev/null ||
	bad "the installed unit does not run /usr/sbin/memtraced"
cmp -s man/memtraced.8 "$dest/usr/share/man/man8/memtraced.8" ||
	bad "man/memtraced.8 was not installed as it is"
"$dest/usr/sbin/memtraced" --version >/dev/null || bad "the installed memtraced does not run"
"$dest/usr/bin/memtracectl" --version >/dev/null || bad "the installed memtracectl does not run"

if ! make -s uninstall DESTDIR="$dest" PREFIX=/usr >"$tmp/uninstall.log" 2>&1; then
	cat "$tmp/uninstall.log"
	bad "make uninstall"
fi
left=$(listing "$dest")
if [ -n "$left" ]; then
	bad "make uninstall left files behind"
	echo "$left" | sed 's/^/    /'
fi

# Another prefix: every path follows it, the unit's ExecStart too.
dest2=$tmp/opt
if make -s install DESTDIR="$dest2" PREFIX=/opt/memtrace >"$tmp/install2.log" 2>&1; then
	grep -q '^ExecStart=/opt/memtrace/sbin/memtraced ' \
		"$dest2/opt/memtrace/lib/systemd/system/memtraced@.service" 2>/dev/null ||
		bad "with PREFIX=/opt/memtrace the unit does not run /opt/memtrace/sbin/memtraced"
	outside=$(cd "$dest2" && find . ! -type d ! -path './opt/memtrace/*')
	[ -z "$outside" ] || bad "with PREFIX=/opt/memtrace files went elsewhere: $outside"
	make -s uninstall DESTDIR="$dest2" PREFIX=/opt/memtrace >/dev/null 2>&1
	[ -z "$(listing "$dest2")" ] || bad "uninstall with PREFIX=/opt/memtrace left files"
else
	cat "$tmp/install2.log"
	bad "make install PREFIX=/opt/memtrace"
fi

[ $fail = 0 ] && echo "install and uninstall: ok"
exit $fail
