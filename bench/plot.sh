#!/usr/bin/env bash
# Draws a script/bench report as an SVG: requests per second and p99 latency against list
# size (person ids per create, log scale) for the service and its ceilings, and for the
# PHP-FPM peer when compare.sh's output is given. gnuplot (Debian's gnuplot-nox) draws it.
#
# usage: bench/plot.sh REPORT.md [--peer COMPARE.txt] [--out FILE.svg]
#
#   REPORT.md          a report script/bench wrote (bench/results/*.md): its table rows
#                      "| ids | round | req/s | p50 ms | p99 ms | ..."
#   --peer FILE        the output of ../shared/peer-bench/compare.sh (its per-round lines
#                      "ids target round req/s p99_us ok/all"): the medians of each size for
#                      the peer ("php") and for the service as compare.sh measured it ("c")
#   --out FILE         where the picture goes (default: REPORT.md with .svg for .md)
#
# The service's and the ceilings' points come from the report; the db ceilings have no
# latency (mariadb-slap reports none), so they appear only in the rate panel.
set -eu

usage() {
    sed -n '/^# usage:/,/^#$/{/^#$/d;s/^# \{0,1\}//p}' "$0"
}

report= peer= out=
while [ "$#" -gt 0 ]; do
    case $1 in
    --peer) [ "$#" -ge 2 ] || { usage >&2; exit 2; }; peer=$2; shift ;;
    --out) [ "$#" -ge 2 ] || { usage >&2; exit 2; }; out=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) [ -z "$report" ] || { usage >&2; exit 2; }; report=$1 ;;
    esac
    shift
done
[ -n "$report" ] || { usage >&2; exit 2; }
[ -r "$report" ] || { echo "plot: cannot read $report" >&2; exit 1; }
[ -z "$peer" ] || [ -r "$peer" ] || { echo "plot: cannot read $peer" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "plot: gnuplot is missing (apt-get install gnuplot-nox)" >&2; exit 1; }
: "${out:=${report%.md}.svg}"

data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT

# One file per round kind of the report: "ids req/s p99_ms" lines, p99 "-" when none.
awk -F'|' -v dir="$data" '
    function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
    NF > 6 && trim($2) ~ /^[0-9]+$/ {
        round = trim($3)
        file = round
        gsub(/[^a-z0-9]+/, "-", file)
        print trim($2), trim($4), trim($6) > (dir "/" file ".dat")
    }' "$report"
[ -s "$data/service.dat" ] || { echo "plot: $report has no service rows" >&2; exit 1; }

# compare.sh: the median req/s and p99 (ms) of each size and target.
if [ -n "$peer" ]; then
    awk -v dir="$data" '
        $1 ~ /^[0-9]+$/ && ($2 == "c" || $2 == "php") && $3 ~ /^[0-9]+$/ && NF >= 6 {
            k = $1 SUBSEP $2
            n[k]++; rps[k, n[k]] = $4; p99[k, n[k]] = $5 / 1000; ids[$1] = 1
        }
        function median(arr, k, m,    i, j, t, v) {
            for (i = 1; i <= m; i++) v[i] = arr[k, i]
            for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
            return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
        }
        END {
            for (i in ids) for (t = 0; t < 2; t++) {
                name = t ? "php" : "c"; k = i SUBSEP name
                if (!n[k]) continue
                print i, median(rps, k, n[k]), median(p99, k, n[k]) | ("sort -n > " dir "/compare-" name ".dat")
            }
        }' "$peer"
    [ -s "$data/compare-php.dat" ] || { echo "plot: $peer has no peer (php) rounds" >&2; exit 1; }
fi

title=$(sed -n '1s/^# //p' "$report")
conns=$(sed -n 's/^- \([0-9][0-9]*\) connections.*/\1/p' "$report" | head -n 1)
# The series present, each with its style: file, title, colour, point type.
rate_plot= p99_plot=
add() { # FILE TITLE COLOUR POINT DASH
    local f=$data/$1.dat
    [ -s "$f" ] || return 0
    local style="with linespoints lw 2 pt $4 ps 0.8 lc rgb '$3' dt $5 title '$2'"
    rate_plot+="${rate_plot:+, }'$f' using 1:2 $style"
    if awk '$3 != "-" { found = 1 } END { exit !found }' "$f"; then
        p99_plot+="${p99_plot:+, }'$f' using 1:3 $style"
    fi
}
add service 'service' '#1f5fbf' 7 1
add service-1-conn 'service, 1 connection' '#1f5fbf' 6 2
add compare-c 'service (compare.sh)' '#5f9fff' 9 2
add compare-php 'PHP-FPM peer (compare.sh)' '#c0392b' 5 1
add http-ceiling 'HTTP ceiling (nginx, no application)' '#7f7f7f' 4 3
add db-ceiling-list-row 'DB ceiling, list row' '#2e8b57' 13 3
add db-ceiling-rows 'DB ceiling, one row per member' '#b8860b' 11 3

gnuplot <<EOF
set terminal svg size 1000,460 dynamic enhanced font 'sans,11' background '#ffffff'
set output '$out.tmp'
set datafile missing '-'
set multiplot layout 1,2 title '${title//\'/} (creates; wrk, ${conns:-16} connections unless noted)'
set logscale xy
set xrange [0.8:12500]
set xtics ('1' 1, '10' 10, '100' 100, '1,000' 1000, '10,000' 10000)
set xlabel 'person ids per list'
set grid xtics ytics mytics lc rgb '#dddddd'
set key bottom left font ',9' spacing 1.1
set ylabel 'requests per second'
set format y '%.0f'
plot $rate_plot
set key top left font ',9' spacing 1.1
set ylabel 'p99 latency, ms'
set format y '%g'
plot $p99_plot
unset multiplot
EOF
mv "$out.tmp" "$out"
echo "$out"
