#!/usr/bin/env bash
# rounds.sh — interleaved rounds of the registry comparison on several commits, in one sitting.
#
#   bench/rounds.sh OUTDIR COMMIT...        (ROUNDS=6 BENCHTIME=300ms by default)
#
# Each commit gets a git worktree with this tree's bench/ module copied in (so every commit runs
# the same benchmarks on its own sessioncore), and two test binaries: sessioncore's and bench/'s.
# Each round then runs every commit once, the order rotating by one per round, so no commit is
# always first or last while the machine drifts:
#   sessioncore  Call/handler=user,floor  Manager/op=create     (the call; create at 100,000 live)
#   bench/       impl=sessioncore,xsync,mutexmap: op=create/n=100000, op=lookup/n=1000,1000000;
#                op=lookup/n=1000,2000,1000-3364/parallel with -cpu 1,2,4; Floor
# Results go to OUTDIR/<commit>.txt in the Go benchmark format, each run after a "round: N"
# line, so `benchstat -ignore round OUTDIR/a.txt OUTDIR/b.txt` compares two commits and the
# per-round ratios can be taken from the files. Figures from one sitting only: the VMs here differ
# 2-3x between sessions, so compare ratios in one run.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: bench/rounds.sh OUTDIR COMMIT..." >&2
  exit 2
fi
out=$(mkdir -p "$1" && cd "$1" && pwd)
shift
rounds=${ROUNDS:-6}
benchtime=${BENCHTIME:-300ms}
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'for d in "$work"/wt-*; do [[ -d $d ]] && git -C "$repo" worktree remove --force "$d"; done; rm -rf "$work"' EXIT

labels=()
for c in "$@"; do
  label=$(git -C "$repo" rev-parse --short "$c")
  wt="$work/wt-$label"
  git -C "$repo" worktree add --detach "$wt" "$c" >/dev/null 2>&1
  cp "$repo"/bench/*.go "$repo"/bench/go.mod "$repo"/bench/go.sum "$wt/bench/"
  (cd "$wt" && go test -c -o "$work/sc-$label.test" ./sessioncore)
  (cd "$wt/bench" && go test -c -o "$work/bench-$label.test" .)
  : >"$out/$label.txt"
  labels+=("$label")
done

run() { "$@" -test.run '^$' -test.benchtime "$benchtime" -test.count 1 -test.benchmem 2>&1 | grep -E '^(Benchmark|Unit|goos|goarch|cpu|pkg)' || true; }
for ((r = 1; r <= rounds; r++)); do
  o=$(((r - 1) % ${#labels[@]}))
  order=("${labels[@]:$o}" "${labels[@]:0:$o}")
  echo "round $r $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg): ${order[*]}" >&2
  for l in "${order[@]}"; do
    {
      echo "round: $r"
      run "$work/sc-$l.test" -test.bench '^Benchmark(Call|Manager)$/^(handler=user|handler=floor|op=create)$'
      run "$work/bench-$l.test" -test.bench 'Registry/^impl=(sessioncore|xsync|mutexmap)$/^op=(create|lookup)$/^n=(100000|1000|1000000)$' | grep -v '/parallel' || true
      run "$work/bench-$l.test" -test.bench 'Registry/^impl=(sessioncore|xsync|mutexmap)$/^op=lookup$/^n=(1000|2000|1000-3364)$/^parallel$' -test.cpu 1,2,4
      run "$work/bench-$l.test" -test.bench 'Floor'
    } >>"$out/$l.txt"
  done
done
echo "done $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg); results in $out" >&2

# Per commit and benchmark: sessioncore's figure ÷ xsync's of the same round (lookups/s where the
# benchmark reports it, else ns/op), as the median, range and count of the rounds.
for l in "${labels[@]}"; do
  awk -v label="$l" '
    /^round: / { r = $2; next }
    /^BenchmarkRegistry\/impl=(sessioncore|xsync)\// {
      name = $1; impl = (name ~ /impl=xsync/) ? "x" : "s"; sub(/impl=[a-z]+\//, "", name)
      v = $3; unit = "ns/op"
      for (i = 4; i < NF; i++) if ($(i + 1) == "lookups/s") { v = $i; unit = "lookups/s" }
      val[name, r, impl] = v; units[name] = unit; rs[r] = 1
    }
    END {
      for (name in units) {
        n = 0
        for (r in rs) if ((name, r, "s") in val && (name, r, "x") in val && val[name, r, "x"] > 0)
          a[++n] = val[name, r, "s"] / val[name, r, "x"]
        for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        med = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        if (n) printf "%s  %-42s sessioncore/xsync %s  %.3f (%.3f-%.3f, %d rounds)\n", label, name, units[name], med, a[1], a[n], n
      }
    }' "$out/$l.txt" | sort -k2
done
