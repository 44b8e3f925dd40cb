#!/usr/bin/env bash
# The monitor on workload families written apart from it
# (bench/redteam/gen.py: written by someone who read only the monitor's
# public documentation, never its code; its first run was held out, the
# monitor was changed on what it showed), in process: detection within 1,000 requests per extraction key,
# benign keys at notice and at throttle, with 95% intervals; with the
# default weights and with `public_set` at 0.
# ROUND 2 runs the second red team (bench/redteam2/gen.py, another author,
# other families; its first run, seed 1 at 01fceab, was held out; the
# monitor was changed on what it showed). ROUND 3 the third
# (bench/redteam3/gen.py; its first run, seed 1, was held out, on the
# monitor before and after the enforcement gate of 2026-12-07). ROUND 4
# the fourth (bench/redteam4/gen.py; its first run, seed 1 at 7ec7449, was
# held out). ROUND 5 the fifth (bench/redteam5/gen.py; its first run, seed 1
# at 2401f25, was held out). ROUND 6 the sixth (bench/redteam6/gen.py; its
# first run, seed 1 at 348ed03, was held out). ROUND 7 the seventh
# (bench/redteam7/gen.py; its first run, seed 1, was held out).
# Usage (from the project root): bench/monitor_redteam.sh [SEED] [ROUND]
set -euo pipefail
cd "$(dirname "$0")/.."
seed="${1:-1}"
round="${2:-1}"
gen=bench/redteam/gen.py
[ "$round" = 2 ] && gen=bench/redteam2/gen.py
[ "$round" = 3 ] && gen=bench/redteam3/gen.py
[ "$round" = 4 ] && gen=bench/redteam4/gen.py
[ "$round" = 5 ] && gen=bench/redteam5/gen.py
[ "$round" = 6 ] && gen=bench/redteam6/gen.py
[ "$round" = 7 ] && gen=bench/redteam7/gen.py
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
out=$(mktemp -d /tmp/proviso-redteam.XXXX)
python3 "$gen" --seed "$seed" --out "$out/scenario.json" > "$out/gen.txt"
FAMILIES_SCENARIO="$out/scenario.json" cargo bench -q -p proviso-monitor --bench families -- "$seed" > "$out/default.txt"
FAMILIES_SCENARIO="$out/scenario.json" FAMILIES_WEIGHTS=public_set=0 \
  cargo bench -q -p proviso-monitor --bench families -- "$seed" > "$out/no_public.txt"
python3 - "$seed" "$out" "$round" <<'PY'
import sys, pathlib
sys.path.insert(0, "bench")
from common import append_results
seed, out, rnd = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
intro = ("Families of `bench/redteam/gen.py` (seed %s): written by a helper who read only docs/monitor.md, "
        "docs/configuration.md and the README, never the monitor's code, its tests or its results, and asked to evade the "
        "documented detectors while harvesting, and to write legitimate traffic that looks as suspicious as it can "
        "(bench/redteam/README.md says what each family does). Its first run (seed 1, commit `a244eea`, bench/history/) was held out: "
        "31/100 extraction keys detected [22.1%%, 41.0%%], 252/306 benign keys at notice or above and 212/306 at throttle or above "
        "[63.8%%, 74.4%%]. The monitor was then changed on what that run showed (docs/monitor.md, \"Families written by someone else\"), "
        "so no later run on these families is held out, whatever its seed. In process "
        "(`FAMILIES_SCENARIO=… cargo bench -p proviso-monitor --bench families`), default `[monitor]`; answers as the family says, prompt tokens estimated over all the text an upstream reads (before 2026-12-07: over the words of user turns only), "
        "else as long as GPT-4's. Intervals are Clopper-Pearson 95%%. (The table's \"held out\" is the generator's label.)\n\n")
if rnd == "2":
    intro = ("Families of `bench/redteam2/gen.py` (seed %s): a second red team, written by another helper who read only "
            "docs/monitor.md, docs/configuration.md's [monitor] part and the README, never the monitor's code, its tests, "
            "its results or the first red team's families (bench/redteam2/README.md says what each family does). Its first "
            "run (seed 1, commit `01fceab`, bench/history/) was held out: 53/100 extraction keys detected [42.8%%, 63.1%%], "
            "188/323 benign keys at notice or above and 129/323 at throttle or above [34.6%%, 45.5%%]. The monitor was then "
            "changed on what it showed (docs/monitor.md, \"The second red team\"), so no later run on these families is held "
            "out, whatever its seed (the table's \"held out\" is the generator's label). "
            "In process (`FAMILIES_SCENARIO=… cargo bench -p proviso-monitor --bench families`), default `[monitor]`; "
            "answers as the family says, prompt tokens estimated over all the text an upstream reads (before 2026-12-07: over the words of user turns only). Intervals are Clopper-Pearson 95%%.\n\n")
    title = "Monitor: the second red team"
elif rnd == "3":
    intro = ("Families of `bench/redteam3/gen.py` (seed %s): a third red team, written by a third helper under the same "
            "rules (docs/monitor.md, docs/configuration.md's [monitor] part and the README only; never the code, its "
            "tests, results or the earlier red teams' families; bench/redteam3/README.md says what each family does). "
            "Its first run (seed 1) was held out, on the monitor before and after the enforcement gate of 2026-12-07 "
            "(bench/history/, \"Monitor: the third red team, held out\"): 52/161 extraction keys detected [25.2%%, 40.1%%]; "
            "benign keys at notice or above 176/335 [47.0%%, 58.0%%], at throttle or above 86/335 before the gate "
            "[21.1%%, 30.7%%] and 69/335 after it [16.4%%, 25.3%%]. Any later change makes these families seen "
            "(the table's \"held out\" is the generator's label). In process, default `[monitor]`; answers as the "
            "family says, prompt tokens estimated over all the text an upstream reads (before 2026-12-07: over the "
            "words of user turns only). Intervals are Clopper-Pearson 95%%.\n\n")
    title = "Monitor: the third red team"
elif rnd == "4":
    intro = ("Families of `bench/redteam4/gen.py` (seed %s): a fourth red team, written by a fourth helper under the "
            "same rules (docs/monitor.md, docs/configuration.md's [monitor] part, the README and the data under "
            "tests/fixtures/ only; never the code, its tests, results or the earlier red teams' families; "
            "bench/redteam4/README.md says what each family does). Its first run (seed 1, at `7ec7449`) was held out "
            "(bench/history/, \"Monitor: the fourth red team, held out\"): 35/156 extraction keys detected "
            "[16.2%%, 29.8%%]; benign keys at notice or above 123/302 [35.1%%, 46.5%%], at throttle or above 64/302 "
            "[16.7%%, 26.2%%]. Any later change makes these families seen (the table's \"held out\" is the "
            "generator's label). In process, default `[monitor]`; answers as the family says, prompt tokens estimated "
            "over all the text an upstream reads. Intervals are Clopper-Pearson 95%%.\n\n")
    title = "Monitor: the fourth red team"
elif rnd == "5":
    intro = ("Families of `bench/redteam5/gen.py` (seed %s): a fifth red team, written by a fifth helper under the "
            "same rules (docs/monitor.md, docs/configuration.md's [monitor] part, the README and the data under "
            "tests/fixtures/ only; never the code, its tests, results or the earlier red teams' families; "
            "bench/redteam5/README.md says what each family does). Its first run (seed 1, at `2401f25`) was held out "
            "(bench/history/, \"Monitor: the fifth red team, held out\"): 59/152 extraction keys detected "
            "[31.0%%, 47.0%%]; benign keys at notice or above 102/302 [28.5%%, 39.4%%], at throttle or above 43/302 "
            "[10.5%%, 18.7%%]. Any later change makes these families seen (the table's \"held out\" is the "
            "generator's label). In process, default `[monitor]`; answers as the family says, prompt tokens estimated "
            "over all the text an upstream reads. Intervals are Clopper-Pearson 95%%.\n\n")
    title = "Monitor: the fifth red team"
elif rnd == "6":
    intro = ("Families of `bench/redteam6/gen.py` (seed %s): a sixth red team, written by a sixth helper under the "
            "same rules (docs/monitor.md, docs/configuration.md's [monitor] part, the README and the data under "
            "tests/fixtures/ only; never the code, its tests, results or the earlier red teams' families; "
            "bench/redteam6/README.md says what each family does). Its first run (seed 1, at `348ed03`) was held out "
            "(bench/history/, \"Monitor: the sixth red team, held out\"): 36/150 extraction keys detected "
            "[17.4%%, 31.6%%]; benign keys at notice or above 231/300 [71.8%%, 81.6%%], at throttle or above 90/300 "
            "[24.9%%, 35.5%%]. Any later change makes these families seen (the table's \"held out\" is the "
            "generator's label). In process, default `[monitor]`; answers as the family says, prompt tokens estimated "
            "over all the text an upstream reads. Intervals are Clopper-Pearson 95%%.\n\n")
    title = "Monitor: the sixth red team"
elif rnd == "7":
    intro = ("Families of `bench/redteam7/gen.py` (seed %s): a seventh red team, written by a seventh helper under "
            "the same rules (docs/monitor.md, docs/configuration.md's [monitor] part, the README and "
            "tests/fixtures/README.md only; never the code, its tests, results or the earlier red teams' families; "
            "bench/redteam7/README.md says what each family does), after docs/monitor.md described turns written "
            "in the model's name. Its first run (seed 1) is held out until the monitor is changed on what it "
            "shows; then the table's \"held out\" is only the generator's label. In process, default `[monitor]`; "
            "answers as the family says, prompt tokens estimated over all the text an upstream reads; a turn that "
            "follows messages the key sent is taken as the model's answer (`observation::replayed_answers`). "
            "Intervals are Clopper-Pearson 95%%.\n\n")
    title = "Monitor: the seventh red team"
else:
    title = "Monitor: red-team families written apart"
tables = ((out / "default.txt").read_text().strip()
          + "\n\nThe same with `[monitor.weights] public_set = 0`:\n\n" + (out / "no_public.txt").read_text().strip())
suffix = "" if rnd == "1" else f" {rnd}"
append_results(title, f"bench/monitor_redteam.sh {seed}{suffix}", intro % seed + tables)
PY
rm -rf "$out"
