#!/bin/bash
# The Debian package: scripts/build-deb builds it from a clean copy of the
# tree with dpkg-buildpackage -us -uc -b, lintian finds no error and no
# warning; dpkg-deb -c lists exactly the expected files; unpacked into a
# throwaway root, its memtraced and memtracectl run and print the tree's
# version, its unit runs /usr/sbin/memtraced with the instance's name and
# keeps /run/memtrace as RuntimeDirectory.
# As root, installs debhelper, dpkg-dev and lintian first when missing.
# Exit 0 pass, 77 skip (the tools are missing and cannot be installed), else fail.
set -u
cd "$(dirname "$0")/../.." || exit 1

if [ "$(id -u)" = 0 ]; then
	if ! scripts/install-deps --deb >/tmp/memtrace-deb-deps.$$ 2>&1; then
		tail -n 5 /tmp/memtrace-deb-deps.$$
		rm -f /tmp/memtrace-deb-deps.$$
		echo "skip: debhelper, dpkg-dev and lintian could not be installed (apt-get failed)"
		exit 77
	fi
	rm -f /tmp/memtrace-deb-deps.$$
fi
for tool in dpkg-buildpackage dh dpkg-deb lintian; do
	command -v "$tool" >/dev/null ||
		{ echo "skip: $tool is missing (run scripts/install-deps --deb as root)"; exit 77; }
done

tmp=$(mktemp -d /tmp/memtrace-debtest.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

if ! scripts/build-deb "$tmp/out" >"$tmp/build.out" 2>&1; then
	cat "$tmp/build.out"
	echo "FAIL: scripts/build-deb (dpkg-buildpackage or lintian)"
	exit 1
fi
version=$(sed -n 's/^VERSION := //p' Makefile)
deb=$tmp/out/memtrace_${version}_amd64.deb
[ -f "$deb" ] || { ls "$tmp/out"; echo "FAIL: no $deb (debian/changelog and the Makefile's VERSION differ?)"; exit 1; }
grep -E '^[EW]: ' "$tmp/build.out" && bad "lintian reported errors or warnings"

# 1. The contents, files and links only (directories follow from them).
expected="-rw-r--r-- etc/memtrace/example.conf
-rw-r--r-- lib/systemd/system/memtraced@.service
-rwxr-xr-x usr/bin/memtracectl
-rwxr-xr-x usr/sbin/memtraced
-rw-r--r-- usr/share/bash-completion/completions/memtracectl
lrwxrwxrwx usr/share/bash-completion/completions/memtraced -> memtracectl
-rw-r--r-- usr/share/doc/memtrace/README.md.gz
-rw-r--r-- usr/share/doc/memtrace/changelog.gz
-rw-r--r-- usr/share/doc/memtrace/copyright
-rw-r--r-- usr/share/doc/memtrace/examples/memtrace.json
-rw-r--r-- usr/share/doc/memtrace/examples/memtrace.rules.test.yml
-rw-r--r-- usr/share/doc/memtrace/examples/memtrace.rules.yml
-rw-r--r-- usr/share/man/man1/memtracectl.1.gz
-rw-r--r-- usr/share/man/man5/memtraced.conf.5.gz
-rw-r--r-- usr/share/man/man7/memtrace-protocol.7.gz
-rw-r--r-- usr/share/man/man8/memtraced.8.gz"
got=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\.\//, "", $6); $2 = $3 = $4 = $5 = ""; print }' |
	sed 's/  */ /g' | LC_ALL=C sort)
if [ "$got" != "$(LC_ALL=C sort <<<"$expected")" ]; then
	bad "dpkg-deb -c differs from the expected list"
	diff <(LC_ALL=C sort <<<"$expected") <(echo "$got") | sed 's/^/    /'
fi
dpkg-deb -c "$deb" | awk '{ print $2 }' | grep -qv '^root/root$' && bad "files not owned by root/root"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || bad "package version is not the Makefile's $version"
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles 2>/dev/null | grep -qx /etc/memtrace/example.conf ||
	bad "/etc/memtrace/example.conf is not a conffile"
deps=$(dpkg-deb -f "$deb" Depends)
for lib in libseccomp2 libunwind8 libjansson4 libelf1 libsystemd0; do
	grep -q "$lib" <<<"$deps" || bad "Depends lacks $lib: $deps"
done

# 2. Unpacked into a throwaway root: the programs run and say the version.
root=$tmp/root
dpkg -x "$deb" "$root" || { echo "FAIL: dpkg -x"; exit 1; }
out=$("$root/usr/sbin/memtraced" --version 2>&1)
[ "$out" = "memtraced $version" ] || bad "memtraced --version from the package: '$out'"
out=$("$root/usr/bin/memtracectl" --version 2>&1)
grep -q "$version" <<<"$out" || bad "memtracectl --version from the package: '$out'"
# Built with Debian's hardening flags (full RELRO, fortified, PIE).
if command -v readelf >/dev/null; then
	for b in usr/sbin/memtraced usr/bin/memtracectl; do
		readelf -d "$root/$b" | grep -q 'BIND_NOW' || bad "$b is not linked with -z now"
		readelf -h "$root/$b" | grep -q 'DYN' || bad "$b is not PIE"
		readelf -s --wide "$root/$b" | grep -q '__[a-z]*_chk' || bad "$b has no fortified calls"
	done
fi
unit=$root/lib/systemd/system/memtraced@.service
grep -qx 'ExecStart=/usr/sbin/memtraced -c /etc/memtrace/%i.conf -s /run/memtrace/%i.sock --name %i' "$unit" ||
	bad "the packaged unit's ExecStart"
grep -qx 'RuntimeDirectory=memtrace' "$unit" || bad "the packaged unit does not make /run/memtrace"
cmp -s systemd/example.conf "$root/etc/memtrace/example.conf" || bad "example.conf differs from the tree's"
zcat "$root/usr/share/man/man8/memtraced.8.gz" | cmp -s - man/memtraced.8 || bad "memtraced.8 differs"
cmp -s contrib/prometheus/memtrace.rules.yml "$root/usr/share/doc/memtrace/examples/memtrace.rules.yml" ||
	bad "the packaged rules differ from contrib/prometheus's"
# The unpacked example config is one memtraced accepts: it fails only on the
# PID file it names (exit 4), not on a key (exit 2).
"$root/usr/sbin/memtraced" -c "$root/etc/memtrace/example.conf" --no-socket >"$tmp/ex.out" 2>&1
rc=$?
[ $rc = 4 ] && grep -q /run/app.pid "$tmp/ex.out" || bad "example.conf: exit $rc: $(cat "$tmp/ex.out")"

[ $fail = 0 ] && echo "deb: $(basename "$deb") built, lintian clean, contents and programs ok"
exit $fail
