#!/bin/sh
# The fuzz targets' runs, for make fuzz and make fuzz-replay:
#   run.sh fuzz SECONDS TARGET...   fuzz each target SECONDS (FUZZ_JOBS at
#                                   once, FUZZ_FLAGS added), then a table of
#                                   executions, coverage and findings
#   run.sh replay TARGET...         each input of tests/fuzz/corpus/TARGET
#                                   once, no fuzzing: the seeds and every
#                                   crash kept as a regression input
# Run from the top of the repository, after make fuzz-build.
set -eu

build=build/fuzz
corpus=tests/fuzz/corpus

one() {	# one TARGET SECONDS: one fuzzing run, its log in build/fuzz/TARGET.log
	t=$1
	mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
	dict=""
	[ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
	# new inputs go to build/fuzz/corpus; the repository's stay as they are
	# shellcheck disable=SC2086
	"$build/fuzz_$t" -max_total_time="$2" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$build/artifacts/$t/" \
	    $dict ${FUZZ_FLAGS:-} "$build/corpus/$t" "$corpus/$t" \
	    >"$build/$t.log" 2>&1
}

summary() {	# summary TARGET: one row of the table
	t=$1
	log="$build/$t.log"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	found=$(find "$build/artifacts/$t" -type f | wc -l)
	printf '%-8s %12s %8s %9s\n' "$t" "${execs:-?}" "${cov:-?}" "$found"
}

case ${1:-} in
fuzz)
	seconds=$2
	shift 2
	status=0
	# xargs runs FUZZ_JOBS targets at once; each one's failure is kept
	printf '%s\n' "$@" | xargs -P "${FUZZ_JOBS:-1}" -I '{}' \
	    sh "$0" one '{}' "$seconds" || status=1
	printf '%-8s %12s %8s %9s\n' target executions "cov" findings
	for t in "$@"; do
		summary "$t"
	done
	if [ "$status" != 0 ]; then
		echo "fuzz: a target crashed: see build/fuzz/TARGET.log and" \
		    "build/fuzz/artifacts/TARGET/; keep each crash as a" \
		    "regression input in tests/fuzz/corpus/TARGET/" >&2
	fi
	exit "$status"
	;;
one)
	one "$2" "$3"
	;;
replay)
	shift
	status=0
	for t in "$@"; do
		n=$(find "$corpus/$t" -type f | wc -l)
		# each file once; a crash, a leak or a time-out fails the replay
		if find "$corpus/$t" -type f -print0 | sort -z |
		    xargs -0 "$build/fuzz_$t" -timeout=10 -rss_limit_mb=2048 \
		    >"$build/$t.replay.log" 2>&1; then
			echo "fuzz-replay: $t: $n inputs, no finding"
		else
			echo "fuzz-replay: $t: FAILED, see $build/$t.replay.log" >&2
			tail -n 30 "$build/$t.replay.log" >&2
			status=1
		fi
	done
	exit "$status"
	;;
*)
	echo "usage: run.sh fuzz SECONDS TARGET... | run.sh replay TARGET..." >&2
	exit 2
	;;
esac
