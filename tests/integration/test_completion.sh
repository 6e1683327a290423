#!/bin/bash
# The bash completion, driven as bash would drive it, against the built
# programs: commands, a command's options, an option's choices, global
# options, and memtraced's options.  The completion reads the options from
# --help, so a change in the help's layout shows here.
# Exit 0 pass, anything else fail.
set -u
cd "$(dirname "$0")/../.." || exit 1
build=${MT_BUILD:-build}
case $build in /*) ;; *) build=$PWD/$build ;; esac
ctl=$build/memtracectl
daemon=$build/memtraced
# shellcheck source=../../cli/memtracectl.bash-completion
. cli/memtracectl.bash-completion
fail=0

# The words offered for the command line FN WORDS... (the last is being typed).
offered() {
	local fn=$1
	shift
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	"$fn"
	printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' '
}

# expect WANT... -- FN WORDS...: every word of WANT is offered.
expect() {
	local want=() w got
	while [ "$1" != -- ]; do
		want+=("$1")
		shift
	done
	shift
	got=$(offered "$@")
	for w in "${want[@]}"; do
		case " $got" in
		*" $w "*) ;;
		*) echo "FAIL: '${*:2}' offers [$got], not $w"; fail=1 ;;
		esac
	done
}

expect status stacks stop -- _memtracectl "$ctl" st
expect --class --min-size --older-than --tid --limit --sort --stacks --rss -- \
	_memtracectl "$ctl" outstanding --
expect small chunk large -- _memtracectl "$ctl" outstanding --class ''
expect --follow --format -- _memtracectl "$ctl" -s /tmp/x.sock events --f
expect --socket --json -- _memtracectl "$ctl" --
expect --interval --iterations -- _memtracectl "$ctl" top --
expect --stacks --stack-depth -- _memtraced "$daemon" --st
expect none chunk large all -- _memtraced "$daemon" --stacks ''
expect chunk large -- _memtraced "$daemon" --count ''

[ "$fail" = 0 ] && echo "completion: ok"
exit "$fail"
