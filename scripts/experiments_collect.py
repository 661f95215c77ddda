#!/usr/bin/env python3
"""Takes the results of a scripts/experiments run into the tree and checks
them against the experiments' targets.

    python3 scripts/experiments_collect.py SOURCE DEST [--strict]

SOURCE is the archive scripts/experiments-gpu writes (a .tar.gz holding
results/) or a results folder; DEST is the folder to fill (for a GPU run,
docs/results/experiments-<date>-<device>). The reports are copied, every
gnuplot script is drawn into its PNG when gnuplot is on the PATH, and
DEST/targets.md says, target by target, what the reports measured and
whether the target is met. Exit status 1 for a SOURCE that is not a results
folder, or with --strict when a target is not met or not measured.
"""
import csv
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile

LEARNED_AT = 60.0  # test accuracy (%) from which fixes counts a run as learning
CHANCE_WITHIN = 2.0  # points from a one-class predictor's accuracy that count as chance
N_KERNELS = 64 << 20  # the kernels target's N
EXPLODED_PCT = 50.0  # saturated logits (%) at step 1 or 2 that count as the first-step explosion
RECOVERED_PCT = 5.0  # saturated logits (%), at most, at the last step for a recovery and at step 0 before an explosion

# The seeds' fixes table (Sigmoid+BCELoss, proper init, VGG16 without BatchNorm, Adam
# lr 1e-3 unless the fix changes it): does the network learn?
SEEDS_FIXES = [
    ("weight decay", lambda r: float(r["weight_decay"]) > 0, False),
    ("gradient clipping", lambda r: float(r["clip"]) > 0, False),
    ("BatchNorm + lr 1e-3", lambda r: r["batch_norm"] == "yes" and lr(r) == 1e-3, False),
    ("smaller lr (1e-4)", lambda r: r["batch_norm"] == "no" and lr(r) == 1e-4, True),
    ("BatchNorm + lr 1e-4", lambda r: r["batch_norm"] == "yes" and lr(r) == 1e-4, True),
]


def lr(row):
    return float(row["lr"])


def read_csv(path):
    if not os.path.isfile(path):
        return None
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_text(path):
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return f.read()


def pct(v):
    return f"{v:.2f}%"


class Targets:
    def __init__(self):
        self.rows = []

    def add(self, target, measured, verdict):
        """verdict: True (met), False (not met) or None (not measured)."""
        self.rows.append((target, measured, verdict))

    def unmet(self):
        return [t for t, _, v in self.rows if v is not True]

    def markdown(self):
        word = {True: "met", False: "**not met**", None: "not measured"}
        out = ["| target | measured | verdict |", "|---|---|---|"]
        for t, m, v in self.rows:
            out.append(f"| {t} | {m.replace('|', '/')} | {word[v]} |")
        return "\n".join(out)


def one_class_accuracies(train_md):
    """The accuracies of predicting one class for every test image, from the
    header's data row ('... of N test images (K smiling)')."""
    m = re.search(r"(\d+) of \d+ test images \((\d+) smiling\)", train_md or "")
    if not m:
        return None
    n, smiling = int(m.group(1)), int(m.group(2))
    return 100.0 * smiling / n, 100.0 * (n - smiling) / n


def steps_of(rows):
    """The steps the runs trained (steps_run), for the measured column: a
    time budget can leave few, which the verdicts then reflect."""
    steps = sorted({int(r["steps_run"]) for r in rows if r.get("steps_run", "").isdigit()})
    if not steps:
        return "steps not recorded"
    return f"{steps[0]} steps" if len(steps) == 1 else f"{steps[0]}-{steps[-1]} steps"


def check_train(src, t):
    rows = read_csv(os.path.join(src, "train.csv"))
    name = "raschka init, lr 1e-3, no BatchNorm"
    if not rows:
        t.add(f"{name}: Sigmoid+BCELoss at chance, final fc3 gradient exactly 0", "no train.csv", None)
        t.add(f"{name}: BCEWithLogitsLoss >= 95%", "no train.csv", None)
        return
    chosen = [r for r in rows if r["init"] == "raschka" and lr(r) == 1e-3 and r["batch_norm"] == "no"
              and float(r["weight_decay"]) == 0 and float(r["clip"]) == 0]
    sig = [r for r in chosen if r["loss"] == "sigmoid_bce"]
    bcewl = [r for r in chosen if r["loss"] == "bce_with_logits"]
    chance = one_class_accuracies(read_text(os.path.join(src, "train.md")))
    if sig and chance:
        accs = [float(r["test_acc_pct"]) for r in sig]
        grads = [float(r["final_fc3_grad_norm"]) for r in sig]
        at_chance = all(min(abs(a - c) for c in chance) <= CHANCE_WITHIN for a in accs)
        measured = (f"{len(sig)} seed(s), {steps_of(sig)}: test accuracy {', '.join(pct(a) for a in accs)} (one class for every "
                    f"image: {pct(chance[0])} or {pct(chance[1])}); final fc3 gradient norm "
                    f"{', '.join(f'{g:.6g}' for g in grads)}")
        t.add(f"{name}: Sigmoid+BCELoss at chance, final fc3 gradient exactly 0", measured,
              at_chance and all(g == 0 for g in grads))
    else:
        t.add(f"{name}: Sigmoid+BCELoss at chance, final fc3 gradient exactly 0",
              "no such run" if not sig else "train.md names no test split", None)
    if bcewl:
        accs = [float(r["test_acc_pct"]) for r in bcewl]
        t.add(f"{name}: BCEWithLogitsLoss >= 95%",
              f"{len(bcewl)} seed(s), {steps_of(bcewl)}: test accuracy {', '.join(pct(a) for a in accs)}",
              min(accs) >= 95.0)
    else:
        t.add(f"{name}: BCEWithLogitsLoss >= 95%", "no such run", None)


def check_lockstep(src, t):
    rows = read_csv(os.path.join(src, "lockstep.csv"))
    target = "lock step: a first-step logit explosion; BCEWithLogitsLoss recovers, Sigmoid+BCELoss does not"
    if not rows:
        t.add(target, "no lockstep.csv", None)
        return
    runs = {}
    for r in rows:
        if r["impl"] == "native":
            runs.setdefault((r["init"], r["lr"]), {}).setdefault(r["loss"], []).append(r)
    shown = []
    met = False
    for (init, rate), losses in sorted(runs.items()):
        sig, bcewl = losses.get("sigmoid_bce"), losses.get("bce_with_logits")
        if not sig or not bcewl:
            continue
        start = float(sig[0]["saturated_pct"])
        first = [float(r["saturated_pct"]) for r in sig[1:3]]
        explosion = start <= RECOVERED_PCT and bool(first) and max(first) >= EXPLODED_PCT
        sig_dead = sum(float(r["fc3_grad_norm"]) == 0 for r in sig)
        sig_last, bcewl_last = float(sig[-1]["saturated_pct"]), float(bcewl[-1]["saturated_pct"])
        recovered = bcewl_last <= RECOVERED_PCT and float(bcewl[-1]["fc3_grad_norm"]) > 0
        stuck = sig_last >= EXPLODED_PCT and sig_dead > 0
        ok = explosion and recovered and stuck
        met = met or ok
        shown.append(f"init {init}, lr {rate}: saturated {start:.1f}% at step 0, "
                     f"{max(first) if first else 0:.1f}% at steps 1-2; "
                     f"last step: Sigmoid+BCELoss {sig_last:.1f}% saturated, fc3 gradient 0 at {sig_dead} of "
                     f"{len(sig)} steps; BCEWithLogitsLoss {bcewl_last:.1f}% saturated"
                     f"{' (shows it)' if ok else ''}")
    t.add(target, "; ".join(shown) or "no configuration with both losses", met if shown else None)


def check_fixes(src, t):
    rows = read_csv(os.path.join(src, "fixes.csv"))
    target = "fixes: sorted as the seeds report (weight decay, clipping, BatchNorm at 1e-3 fail; lr 1e-4, " \
             "BatchNorm + lr 1e-4 work)"
    if not rows:
        t.add(target, "no fixes.csv", None)
        return None
    sig = [r for r in rows if r["loss"] == "sigmoid_bce"]
    table = ["| fix | seeds | measured | test acc | agrees |", "|---|---|---|---:|---|"]
    seen = disagree = 0
    for label, match, works in SEEDS_FIXES:
        for r in (r for r in sig if match(r)):
            seen += 1
            acc = float(r["test_acc_pct"])
            learned = acc >= LEARNED_AT
            disagree += learned != works
            table.append(f"| {r['run']} | {'✓' if works else '✗'} ({label}) | {'✓' if learned else '✗'} | "
                         f"{pct(acc)} | {'yes' if learned == works else '**no**'} |")
    t.add(target, f"{seen} runs compared with the seeds' verdicts, {disagree} disagree (table below); "
                  f"{steps_of(sig)}",
          disagree == 0 if seen else None)
    return "\n".join(table)


def check_kernels(src, t):
    rows = read_csv(os.path.join(src, "kernels.csv"))
    target = "kernels, N = 64M: ours >= 80% of the copy bandwidth and >= 5x torch's forward+backward"
    row = next((r for r in rows or [] if int(r["n"]) == N_KERNELS), None)
    if row is None or row["ours_gbs"] in ("", "nan"):
        t.add(target, "no N = 64M row with our kernel" if rows else "no kernels.csv", None)
        return
    ours, copy, torch = float(row["ours_gbs"]), float(row["copy_gbs"]), float(row["torch_gbs"])
    speedup = float(row["torch_ms"]) / float(row["ours_ms"])
    # The fused pass without autograd, where the report has it: it tells a
    # slow kernel from autograd's share.
    kernel = row.get("kernel_gbs", "")
    alone = (f"; the kernel alone {float(kernel):.0f} GB/s = {100 * float(kernel) / copy:.1f}%"
             if kernel not in ("", "nan", None) else "")
    # Its best rate at any N, the sizes held in the L2 cache included: a
    # kernel that is no faster from the cache than from device memory is
    # bound by its arithmetic, not by the memory.
    timed = [r for r in rows if r.get("kernel_gbs", "") not in ("", "nan", None)]
    if alone and timed:
        best = max(timed, key=lambda r: float(r["kernel_gbs"]))
        if int(best["n"]) != N_KERNELS:
            n = int(best["n"])
            size = f"{n >> 20}M" if n % (1 << 20) == 0 else f"{n >> 10}K" if n % (1 << 10) == 0 else str(n)
            alone += (f" (its fastest N is {size} at {float(best['kernel_gbs']):.0f} GB/s, "
                      f"{float(best['kernel_gbs']) / float(kernel):.2f}x its rate at 64M)")
    t.add(target, f"ours {ours:.0f} GB/s = {100 * ours / copy:.1f}% of the copy's {copy:.0f} GB/s{alone}; torch "
                  f"{torch:.0f} GB/s, ours {speedup:.2f}x faster", ours >= 0.8 * copy and speedup >= 5.0)


def check_compare(src, t):
    rows = read_csv(os.path.join(src, "compare", "lockstep.csv"))
    md = read_text(os.path.join(src, "compare", "lockstep.md")) or ""
    target = "our ops against native ops: the curves agree, a training step costs at most 1% more"
    if not rows:
        t.add(target, "no compare/lockstep.csv", None)
        return
    # A step stopped before its update has no time (nan).
    timed = [r for r in rows if math.isfinite(float(r["seconds"]))]
    step = {impl: statistics.median(float(r["seconds"]) for r in timed if r["impl"] == impl)
            for impl in ("native", "ours") if any(r["impl"] == impl for r in timed)}
    if len(step) != 2 or not step["native"] > 0:
        t.add(target, "compare/lockstep.csv lacks one implementation's timed steps", None)
        return
    agree = "Verdict: agree." in md
    ratio = step["ours"] / step["native"]
    t.add(target, f"curves {'agree' if agree else 'DIFFER or no verdict'}; median step native "
                  f"{step['native']:.4g} s, ours {step['ours']:.4g} s, ours / native = {ratio:.4f}",
          agree and ratio <= 1.01)


def check_ops(src, t):
    log = read_text(os.path.join(src, "test_torch_ops.log"))
    target = "test_torch_ops passes, its CUDA test case included"
    if log is None:
        t.add(target, "no test_torch_ops.log", None)
        return
    passed = "Status: SUCCESS" in log
    skipped = "skipped:" in log
    summary = re.search(r"test cases:.*", log)
    t.add(target, (summary.group(0).strip() if summary else "no doctest summary")
          + ("; the CUDA case was skipped" if skipped else ""), passed and not skipped)


# Every check, in the order of targets.md; check_fixes also returns its table.
CHECKS = (check_ops, check_train, check_lockstep, check_fixes, check_kernels, check_compare)


def evaluate(folder):
    """The targets checked against the reports in folder, and the fixes table."""
    t, fixes = Targets(), None
    for check in CHECKS:
        fixes = check(folder, t) or fixes
    return t, fixes


def unpack(source, staging):
    """The results folder of SOURCE (an archive holding results/, or a folder)."""
    if os.path.isdir(source):
        return source
    with tarfile.open(source) as tar:
        for m in tar.getmembers():
            if m.name.startswith("/") or ".." in m.name.split("/") or not (m.isfile() or m.isdir()):
                raise SystemExit(f"experiments_collect: unexpected member {m.name!r} in {source}")
        tar.extractall(staging)
    found = os.path.join(staging, "results")
    if not os.path.isdir(found):
        raise SystemExit(f"experiments_collect: {source} holds no results/ folder")
    return found


def draw(dest):
    """Runs every gnuplot script under dest in its folder; returns what it did."""
    scripts = sorted(os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs if f.endswith(".gp"))
    if not scripts:
        return "no gnuplot scripts"
    if shutil.which("gnuplot") is None:
        return f"gnuplot is not on the PATH: {len(scripts)} scripts not drawn (bash scripts/deps bench installs it)"
    failed = []
    for gp in scripts:
        if subprocess.run(["gnuplot", os.path.basename(gp)], cwd=os.path.dirname(gp)).returncode != 0:
            failed.append(os.path.relpath(gp, dest))
    return f"{len(scripts)} gnuplot scripts drawn" + (f", failed: {', '.join(failed)}" if failed else "")


def main(argv):
    args = [a for a in argv if a != "--strict"]
    if len(args) != 2 or any(a.startswith("-") for a in args):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    source, dest = args
    with tempfile.TemporaryDirectory() as staging:
        src = unpack(source, staging)
        if not os.path.isfile(os.path.join(src, "index.md")):
            print(f"experiments_collect: {source} has no index.md: not the results of scripts/experiments",
                  file=sys.stderr)
            return 1
        if os.path.abspath(src) != os.path.abspath(dest):
            shutil.copytree(src, dest, dirs_exist_ok=True)
    drawn = draw(dest)

    t, fixes = evaluate(dest)
    index = read_text(os.path.join(dest, "index.md")).splitlines()
    provenance = [line for line in index[:8] if line.startswith(("Written by", "commit", "Deadline", "Built"))]
    statuses = [line for line in index if line.startswith("| ") and not line.startswith("| study")]
    with open(os.path.join(dest, "targets.md"), "w", encoding="utf-8") as f:
        f.write("# The experiments' targets, checked against this run\n\n")
        f.write("Written by `python3 scripts/experiments_collect.py` from the reports in this folder. The run: "
                + " ".join(provenance) + "\n\n")
        f.write(t.markdown() + "\n\n")
        f.write(f"Chance: within {CHANCE_WITHIN:g} points of the accuracy of predicting one class for every test "
                f"image. Explosion: at most {RECOVERED_PCT:g}% of the logits saturated (|x| >= 16.6355) at step 0 and "
                f"at least {EXPLODED_PCT:g}% at step 1 or 2; recovery: at most {RECOVERED_PCT:g}% saturated at the last step and a non-zero fc3 "
                f"gradient. A fix works when the test accuracy reaches {LEARNED_AT:g}%.\n")
        if fixes:
            f.write("\n## Fixes against the seeds' table\n\n" + fixes + "\n")
        f.write("\n## Studies\n\n| study | status | wall time | report |\n|---|---|---:|---|\n")
        f.write("\n".join(statuses) + "\n")
    print(t.markdown())
    print(f"experiments_collect: {drawn}; {os.path.join(dest, 'targets.md')} written", file=sys.stderr)
    if "--strict" in argv and t.unmet():
        print(f"experiments_collect: {len(t.unmet())} target(s) not met or not measured", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
