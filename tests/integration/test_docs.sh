#!/bin/bash
# The documentation keeps up with the programs:
#  - mandoc -T lint -W warning reports nothing for any man page;
#  - every long option in memtraced --help is in memtraced(8), and every key
#    of the config file (those options but config, help and version) is in
#    memtraced.conf(5);
#  - every memtracectl command in memtracectl --help is an item of
#    memtracectl(1), with every option the help lists for it, and every
#    command but memtracectl's own (its help says so) has its section in
#    memtrace-protocol(7);
#  - systemd-analyze verify accepts the unit (and finds its man pages), and
#    its exposure score stays at 3.0 or below;
#  - the README names make demo and make check.
# Exit 0 pass, 77 skip (a tool is missing and nothing failed), else fail.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${MT_BUILD:-build}
MEMTRACED=$B/memtraced
MEMTRACECTL=$B/memtracectl
PAGES="man/memtraced.8 man/memtracectl.1 man/memtraced.conf.5 man/memtrace-protocol.7"
fail=0 skipped=()
bad() { echo "FAIL: $*"; fail=1; }

for p in $PAGES; do
	[ -f "$p" ] || bad "$p is missing"
done
for b in "$MEMTRACED" "$MEMTRACECTL"; do
	[ -x "$b" ] || { echo "FAIL: $b is not built"; exit 1; }
done

tmp=$(mktemp -d /tmp/memtrace-docs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# The text of a page: rendered by mandoc when there is one, else the source
# with mdoc's "Fl -name" read as "--name".
text() {
	if command -v mandoc >/dev/null; then
		mandoc -T ascii "$1" 2>/dev/null | col -b
	else
		sed -e 's/\\-/-/g' -e 's/Fl -/--/g' "$1"
	fi
}

# The long options of an option list: lines that start with blanks and a dash.
long_options() {
	grep -E '^ +-' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

# 1. mandoc lint.
if command -v mandoc >/dev/null; then
	for p in $PAGES; do
		[ -f "$p" ] || continue
		out=$(mandoc -T lint -W warning "$p" 2>&1)
		[ -z "$out" ] || bad "mandoc -T lint -W warning $p:"$'\n'"$out"
	done
else
	skipped+=("mandoc lint (mandoc is missing)")
fi

# 2. memtraced's options in memtraced(8), its keys in memtraced.conf(5).
opts=$("$MEMTRACED" --help | long_options)
[ -n "$opts" ] || bad "no options found in memtraced --help"
page=$(text man/memtraced.8)
for o in $opts; do
	grep -qE -- "${o}([^a-z0-9-]|\$)" <<<"$page" || bad "memtraced.8 does not mention $o"
done
for o in $opts; do
	key=${o#--}
	case $key in config | help | version) continue ;; esac
	grep -qE "^\.It Ic $key No =" man/memtraced.conf.5 ||
		bad "memtraced.conf.5 has no item for the key $key"
done

# 3. memtracectl's commands and options in memtracectl(1); protocol commands
#    in memtrace-protocol(7).
help=$("$MEMTRACECTL" --help)
for o in $(sed '/^Commands:/,$d' <<<"$help" | long_options); do
	grep -qE -- "${o}([^a-z0-9-]|\$)" <<<"$(text man/memtracectl.1)" ||
		bad "memtracectl.1 does not mention the global option $o"
done
cmds=$(sed -n '/^Commands:/,$p' <<<"$help" | grep -oE '^  [a-z][a-z0-9-]*' | tr -d ' ')
[ -n "$cmds" ] || bad "no commands found in memtracectl --help"
for c in $cmds; do
	# The command's item runs to the next command item.
	block=$(awk -v c="$c" '
		/^\.It Ic / { on = ($3 == c) }
		on' man/memtracectl.1)
	if [ -z "$block" ]; then
		bad "memtracectl.1 has no item for the command $c"
		continue
	fi
	copts=$(sed -n '/^Commands:/,$p' <<<"$help" | awk -v c="$c" '
		/^  [a-z]/ { on = ($1 == c); next }
		on' | long_options)
	for o in $copts; do
		grep -qE -- "Fl ${o#-}([^a-z0-9-]|\$)" <<<"$block" ||
			bad "memtracectl.1 does not describe $c $o"
	done
	# memtracectl's own commands (wait, check...) send no protocol command of their name.
	"$MEMTRACECTL" "$c" --help | grep -q "^memtracectl's own command" && continue
	grep -qx "\.Ss $c" man/memtrace-protocol.7 ||
		bad "memtrace-protocol.7 has no section for the command $c"
done

# 4. The systemd unit.
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$tmp/unit" "$tmp/man/man1" "$tmp/man/man5" "$tmp/man/man7" "$tmp/man/man8"
	for p in $PAGES; do
		cp "$p" "$tmp/man/man${p##*.}/"
	done
	sed "s|/usr/sbin/memtraced|$PWD/$MEMTRACED|" systemd/memtraced@.service \
		>"$tmp/unit/memtraced@.service"
	if ! out=$(cd "$tmp/unit" && MANPATH=$tmp/man systemd-analyze verify \
		./memtraced@test.service 2>&1) || [ -n "$out" ]; then
		bad "systemd-analyze verify memtraced@test.service:"$'\n'"$out"
	fi
	if systemd-analyze security --help 2>/dev/null | grep -q -- '--threshold'; then
		if ! out=$(systemd-analyze security --offline=true --threshold=30 \
			"$tmp/unit/memtraced@.service" 2>&1); then
			bad "the unit's exposure is above 3.0:"$'\n'"$(tail -n 1 <<<"$out")"
		else
			tail -n 1 <<<"$out"
		fi
	fi
else
	skipped+=("systemd-analyze verify (systemd-analyze is missing)")
fi

# 5. The README.
for w in "make demo" "make check"; do
	grep -qF "$w" README.md 2>/dev/null || bad "README.md does not mention '$w'"
done

[ $fail = 0 ] || exit 1
if [ ${#skipped[@]} -gt 0 ]; then
	echo "skipped: ${skipped[*]}"
	exit 77
fi
echo "docs: ok"
