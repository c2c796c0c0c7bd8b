#!/usr/bin/env python3
"""Runs the M1, M2 and M3 grids on pgtable's checker and its peers; writes bench/results.{md,json}.

Called by ci/bench-peers (which installs and builds first). Every run is one process whose
last stdout line is a JSON object (see bench/peers/README.md); wall time comes from that
object (the tool's own search time, not start-up or compilation), peak RSS from
/usr/bin/time -f %M. Each cell is run --repeat times (fewer when a run is long) and the
median is reported with its min-max. A tool that times out on a cell is not run on the
bigger cells of the same thread count.

The count check: every tool that reports a reachable-state count on a fixed cell must report
expected-states.txt's (pgtable's) count, or differ by the documented structural constant
(SPIN: bench/peers/spin/COUNTS.md). A mismatch fails the run (exit 1) after writing the
results, so the table still shows it.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEERS = os.path.join(ROOT, "bench", "peers")
PGTABLE = os.path.join(ROOT, "target", "release", "examples", "models")
PEER_BIN = os.path.join(PEERS, "target", "release")

BACKEND = {"fixed": "x86_64", "buggy": "arm-lpae-v4.5"}


# Seconds a run's limit may spend before the search starts (SPIN: `spin -a` and gcc, about
# 1 s here), left out of the bound a timed-out peer's ratio gives.
STARTUP_S = 2

# pgtable's reference mode: every "vs pgtable" ratio and the headline divide by its median.
ONE_CORE = "dfs+por, 1 core"


def tools(model, variant, cores):
    """(tool, mode, argv builder) per tool and mode run on a cell of `model` (m1, m2, m3)."""
    out = []
    mflag = ["--model", model]
    # M3's bug is also the missing grace period, which the encoding does not decide.
    sync = ["--sync", "false"] if model == "m3" and variant == "buggy" else []

    def pg(search, jobs):
        return lambda t, n: [PGTABLE] + mflag + sync + ["--threads", str(t), "--pmds", str(n),
                                                        "--backend", BACKEND[variant], "--search",
                                                        search, "--jobs", str(jobs)]

    out.append(("pgtable", ONE_CORE, pg("dfs-por", 1)))
    out.append(("pgtable", "dfs, 1 core", pg("dfs", 1)))
    out.append(("pgtable", "bfs, 1 core", pg("bfs", 1)))
    for j in sorted({2, cores}):
        if j > 1:
            out.append(("pgtable", f"dfs+por, {j} cores", pg("dfs-por", j)))
            out.append(("pgtable", f"bfs, {j} cores", pg("bfs", j)))
    for w in sorted({1, 2}):
        out.append(("stateright", f"bfs, {w} threads",
                    lambda t, n, w=w: [os.path.join(PEER_BIN, "m1-stateright")] + mflag + ["--threads",
                                       str(t), "--pmds", str(n), "--variant", variant,
                                       "--workers", str(w)]))
    out.append(("spin", "pan -DSAFETY",
                lambda t, n: ["bash", os.path.join(PEERS, "spin", "run.sh")] + mflag
                + [str(t), str(n), variant]))
    out.append(("loom", "model",
                lambda t, n: [os.path.join(PEER_BIN, "m1-loom")] + mflag + ["--threads", str(t),
                                                                             "--pmds", str(n),
                                                                             "--variant", variant]))
    out.append(("loom", "model, 2 preemptions",
                lambda t, n: [os.path.join(PEER_BIN, "m1-loom")] + mflag + [
                    "--threads", str(t), "--pmds", str(n), "--variant", variant,
                    "--preemptions", "2"]))
    out.append(("shuttle", "dfs",
                lambda t, n: [os.path.join(PEER_BIN, "m1-shuttle")] + mflag + ["--threads", str(t),
                              "--pmds", str(n), "--variant", variant, "--scheduler", "dfs"]))
    if variant == "buggy":
        for sched in ("pct", "random"):
            out.append(("shuttle", f"{sched}, 20 seeds",
                        lambda t, n, s=sched: [os.path.join(PEER_BIN, "m1-shuttle")] + mflag + [
                                               "--threads", str(t), "--pmds", str(n),
                                               "--variant", variant, "--scheduler", s,
                                               "--seeds", "20"]))
    return out


def run_once(argv, limit):
    """Runs argv under `timeout` and /usr/bin/time; returns the JSON result with rss_kb."""
    timer = ["/usr/bin/time", "-f", "RSS_KB=%M"] if os.path.exists("/usr/bin/time") else []
    start = time.monotonic()
    try:
        p = subprocess.run(["timeout", str(limit)] + timer + argv, capture_output=True,
                           text=True, check=False)
    except OSError as e:
        return {"verdict": "error", "error": str(e)}
    wall = time.monotonic() - start
    rss = None
    for line in p.stderr.splitlines():
        if line.startswith("RSS_KB="):
            rss = int(line.split("=", 1)[1])
    if p.returncode == 124:
        return {"verdict": "timeout", "seconds": None, "process_seconds": wall, "rss_kb": rss}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"verdict": "error", "error": f"exit {p.returncode}: {tail}",
                "process_seconds": wall, "rss_kb": rss}
    r = json.loads(lines[-1])
    r["process_seconds"] = wall
    if r.get("rss_kb") is None:
        r["rss_kb"] = rss
    return r


def expected_states():
    exp = {}
    with open(os.path.join(PEERS, "expected-states.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if len(line) == 4:
                exp[(line[0].upper(), int(line[1]), int(line[2]))] = int(line[3])
    return exp


def spin_offset():
    """SPIN's stored states minus the model's: the constant COUNTS.md explains."""
    path = os.path.join(PEERS, "spin", "offset")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return int(f.read().split()[0])
    return 0


def fmt_s(x):
    if x is None:
        return "-"
    if x < 0.001:
        return f"{x * 1e6:.0f} µs"
    if x < 1:
        return f"{x * 1e3:.1f} ms"
    return f"{x:.2f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--limit", type=int, default=150,
                    help="seconds per run of pgtable, stateright and SPIN")
    ap.add_argument("--limit-exec", type=int, default=30,
                    help="seconds per run of loom and shuttle (they enumerate executions, "
                         "orders of magnitude slower: a long limit only adds timeouts)")
    ap.add_argument("--threads", default="2,3,4")
    ap.add_argument("--pmds", default="1,2,4,8")
    ap.add_argument("--models", default="m1,m2,m3")
    ap.add_argument("--merge", action="store_true",
                    help="keep the cells of the other models from the existing results.json "
                         "(each model's run is dated in the output)")
    ap.add_argument("--variants", default="buggy,fixed")
    ap.add_argument("--tools", default="pgtable,stateright,spin,loom,shuttle")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    a = ap.parse_args()
    cores = os.cpu_count() or 1
    wanted = set(a.tools.split(","))
    exp = expected_states()
    offset = spin_offset()
    cells = []
    mismatches = []
    timed_out = set()
    grid = [(model, variant, t, n) for model in a.models.split(",")
            for variant in a.variants.split(",")
            for t in map(int, a.threads.split(","))
            for n in map(int, a.pmds.split(","))]
    for model, variant, t, n in grid:
        for tool, mode, argv in tools(model, variant, cores):
            if tool not in wanted:
                continue
            key = (model, variant, tool, mode, t)
            cell = {"model": model.upper(), "variant": variant, "threads": t,
                    "pmds": n, "tool": tool, "mode": mode, "runs": []}
            cells.append(cell)
            if key in timed_out:
                cell["skipped"] = "timed out on fewer pmds"
                continue
            limit = a.limit_exec if tool in ("loom", "shuttle") else a.limit
            first = run_once(argv(t, n), limit)
            cell["runs"].append(first)
            secs = first.get("seconds")
            if first["verdict"] in ("timeout", "error") or secs is None:
                if first["verdict"] == "timeout":
                    timed_out.add(key)
            else:
                reps = a.repeat if secs < 10 else (3 if secs < 40 else 1)
                for _ in range(reps - 1):
                    cell["runs"].append(run_once(argv(t, n), limit))
            summarise(cell)
            check(cell, exp, offset, mismatches)
            print(f"{model} {variant} T{t} N{n} {tool:10} {mode:22} {cell['verdict']:10} "
                  f"{fmt_s(cell.get('median_s'))} states={cell.get('states')}",
                  file=sys.stderr, flush=True)
    run_models = sorted({m.upper() for m in a.models.split(",")})
    runs = [{"models": run_models, "date": time.strftime("%Y-%m-%d", time.gmtime()),
             "machine": machine()}]
    if a.merge and os.path.exists(a.out + ".json"):
        with open(a.out + ".json", encoding="utf-8") as f:
            old = json.load(f)
        cells = [c for c in old["cells"] if c["model"] not in run_models] + cells
        mismatches = [x for x in old.get("count_mismatches", [])
                      if x.split()[0] not in run_models] + mismatches
        for r in old.get("runs") or [{"models": sorted({c["model"] for c in old["cells"]}),
                                      "date": None, "machine": old.get("machine")}]:
            kept = [m for m in r["models"] if m not in run_models]
            if kept:
                runs.insert(0, dict(r, models=kept))
    growth = growth_factors(cells)
    doc = {"machine": machine(), "runs": runs, "limit_s": a.limit, "limit_exec_s": a.limit_exec,
           "repeat": a.repeat, "cells": cells,
           "growth": growth, "count_mismatches": mismatches,
           "spin_state_offset": offset}
    with open(a.out + ".json", "w", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    with open(a.out + ".md", "w", encoding="utf-8") as f:
        f.write(markdown(doc))
    if mismatches:
        print("count mismatches:", *mismatches, sep="\n  ", file=sys.stderr)
        return 1
    return 0


def summarise(cell):
    runs = [r for r in cell["runs"] if r.get("verdict") not in ("timeout", "error")]
    if not runs:
        r = cell["runs"][0]
        cell["verdict"] = r["verdict"]
        cell["error"] = r.get("error")
        return
    secs = [r["seconds"] for r in runs if r.get("seconds") is not None]
    rss = [r["rss_kb"] for r in runs if r.get("rss_kb") is not None]
    r0 = runs[0]
    cell["verdict"] = r0["verdict"]
    cell["states"] = r0.get("states")
    cell["transitions"] = r0.get("transitions")
    cell["executions"] = r0.get("executions")
    cell["cx_len"] = r0.get("cx_len")
    cell["found_seeds"] = r0.get("found_seeds")
    cell["n"] = len(secs)
    if secs:
        cell["median_s"] = statistics.median(secs)
        cell["min_s"], cell["max_s"] = min(secs), max(secs)
        tr = cell.get("transitions")
        if tr:
            cell["ns_per_transition"] = cell["median_s"] * 1e9 / tr
    if rss:
        cell["rss_kb"] = statistics.median(rss)
        st = cell.get("states")
        if st:
            cell["rss_bytes_per_state"] = cell["rss_kb"] * 1024 / st


def check(cell, exp, offset, mismatches):
    if cell["variant"] != "fixed" or cell.get("verdict") != "holds":
        return
    want = exp.get((cell["model"], cell["threads"], cell["pmds"]))
    got = cell.get("states")
    if want is None or got is None:
        return
    if cell["tool"] == "spin":
        want += offset
    if got != want:
        mismatches.append(f"{cell['model']} {cell['tool']} ({cell['mode']}) T{cell['threads']} "
                          f"N{cell['pmds']}: {got} states, expected {want}")
        cell["count_mismatch"] = want


def growth_factors(cells):
    """Per tool and mode on the fixed model: time and states per added pmd and thread."""
    by = {}
    for c in cells:
        if c["variant"] == "fixed" and c.get("median_s") and c.get("verdict") == "holds":
            by[(c["model"], c["tool"], c["mode"], c["threads"], c["pmds"])] = c
    out = []
    for (model, tool, mode, t, n), c in sorted(by.items()):
        for (t2, n2) in ((t, n * 2), (t + 1, n)):
            d = by.get((model, tool, mode, t2, n2))
            if not d:
                continue
            steps = (n2 - n) if t2 == t else 1
            axis = "pmd" if t2 == t else "thread"
            tf = (d["median_s"] / c["median_s"]) ** (1 / steps)
            sf = None
            if c.get("states") and d.get("states"):
                sf = (d["states"] / c["states"]) ** (1 / steps)
            out.append({"model": model, "tool": tool, "mode": mode, "from": [t, n], "to": [t2, n2],
                        "axis": axis, "time_factor": tf, "state_factor": sf})
    return out


def machine():
    info = {"cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo", encoding="utf-8") as f:
            info["mem_kb"] = int(f.readline().split()[1])
    except OSError:
        pass
    for cmd in (["rustc", "--version"], ["spin", "-V"], ["gcc", "--version"]):
        try:
            info[cmd[0]] = subprocess.run(cmd, capture_output=True, text=True,
                                          check=False).stdout.splitlines()[0]
        except (OSError, IndexError):
            info[cmd[0]] = None
    return info


def headline(doc, models):
    """Per fixed cell: pgtable's DFS+POR beside each peer's best mode, as ratios."""
    def best(cells, tool):
        done = [c for c in cells if c["tool"] == tool and c.get("median_s")
                and c.get("verdict") == "holds"]
        if not done:
            out = [c for c in cells if c["tool"] == tool]
            return None, ("timeout" if any(c.get("verdict") == "timeout" or c.get("skipped")
                                           for c in out) else "-")
        c = min(done, key=lambda c: c["median_s"])
        return c["median_s"], fmt_s(c["median_s"])

    def ratio(secs, shown, tool, base):
        """The peer's median over `base`; where the peer ran out of time on this very cell,
        a bound below: the limit less STARTUP_S over `base`, rounded down."""
        if secs and base:
            return f"{secs / base:.1f}x"
        ran_out = any(c["tool"] == tool and c.get("verdict") == "timeout" for c in cells)
        searched = doc["limit_s"] - STARTUP_S
        if not (base and ran_out and searched > 0):
            return "-"
        return f"> {math.floor(searched / base * 10) / 10:.1f}x"

    lines = ["## Headline: time to exhaust the fixed models", "",
             "pgtable's DFS with sleep sets (1 core) beside each peer's fastest mode on the same "
             "cell; a ratio is the peer's median over pgtable's (above 1: pgtable is faster). "
             "\"2 cores\": the same search on two workers sharing the visited set, and SPIN's "
             "median over it. \"timeout\": the peer did not finish within the limit; its ratio "
             f"is then a bound below (\"> Nx\"): the limit less {STARTUP_S} s, which SPIN's "
             "`spin -a` and gcc take at most, over pgtable's median, rounded down.", "",
             "| model | T | N | states | pgtable | SPIN | ratio | stateright | ratio | loom | "
             "shuttle dfs | pgtable, 2 cores | SPIN ratio, 2 cores |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for model in models:
        fixed = [c for c in doc["cells"] if c["model"] == model and c["variant"] == "fixed"]
        for t, n in sorted({(c["threads"], c["pmds"]) for c in fixed}):
            cells = [c for c in fixed if (c["threads"], c["pmds"]) == (t, n)]
            pg = [c for c in cells if c["tool"] == "pgtable" and c["mode"] == ONE_CORE]
            pg_s = pg[0].get("median_s") if pg else None
            states = next((c.get("states") for c in cells if c["tool"] == "pgtable"
                           and c.get("states")), None)
            row = [model, str(t), str(n), "-" if states is None else str(states),
                   fmt_s(pg_s) if pg_s else "timeout"]
            for tool in ("spin", "stateright"):
                secs, shown = best(cells, tool)
                row += [shown, ratio(secs, shown, tool, pg_s)]
            for tool in ("loom", "shuttle"):
                row.append(best([c for c in cells if c["mode"] in ("model", "dfs")], tool)[1])
            two = [c for c in cells if c["tool"] == "pgtable" and c["mode"] == "dfs+por, 2 cores"
                   and c.get("median_s") and c.get("verdict") == "holds"]
            two_s = two[0]["median_s"] if two else None
            spin_s, spin_shown = best(cells, "spin")
            row += [fmt_s(two_s) if two_s else "-", ratio(spin_s, spin_shown, "spin", two_s)]
            lines.append("| " + " | ".join(row) + " |")
    return lines + [""]


def markdown(doc):
    m = doc["machine"]
    models = sorted({c["model"] for c in doc["cells"]})
    names = ", ".join(models[:-1]) + " and " + models[-1] if len(models) > 1 else models[0]
    lines = [f"# {names}: pgtable's checker beside SPIN, stateright, loom and shuttle", "",
             f"Written by `ci/bench-peers` on {m.get('cores')} cores ({m.get('cpu', '?')}), "
             f"{(m.get('mem_kb') or 0) // 1024 // 1024} GiB; {m.get('rustc')}; "
             f"{m.get('spin') or 'spin missing'}. Per run at most {doc['limit_s']} s "
             f"(loom and shuttle: {doc.get('limit_exec_s', doc['limit_s'])} s); times are "
             f"medians of n runs (min-max), the tool's own search time (SPIN: `./pan`'s "
             f"whole process, a few ms of start-up on the smallest cells); RSS is the "
             f"process's peak. The models: `bench/peers/README.md`. \"vs pgtable\" is the "
             f"cell's median over pgtable's DFS+POR median on one core on the same cell.", ""]
    runs = doc.get("runs") or []
    if len(runs) > 1:
        lines += ["Runs (`--merge`): " + "; ".join(
            f"{', '.join(r['models'])} on {r.get('date') or 'an earlier date'}" for r in runs)
            + ", on the same machine and limits.", ""]
    lines += headline(doc, models)
    for model, variant, title in [(m, v, t) for m in models for v, t in (
            ("buggy", "time to the first violation (buggy)"),
            ("fixed", "time to exhaust (fixed)"))]:
        lines += [f"## {model}: {title}", "",
                  "| T | N | tool | mode | verdict | states | transitions | cx | median | "
                  "min-max | n | ns/transition | RSS MiB | vs pgtable dfs+por |",
                  "|---:|---:|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
        cells = [c for c in doc["cells"] if c["variant"] == variant and c["model"] == model]
        base = {(c["threads"], c["pmds"]): c.get("median_s") for c in cells
                if c["tool"] == "pgtable" and c["mode"] == ONE_CORE}
        for c in sorted(cells, key=lambda c: (c["threads"], c["pmds"])):
            verdict = c.get("skipped") and "skipped" or c.get("verdict", "-")
            if c.get("found_seeds") is not None:
                verdict += f" ({c['found_seeds']}/20 seeds)"
            if c.get("count_mismatch") is not None:
                verdict += f" (COUNT != {c['count_mismatch']})"
            b = base.get((c["threads"], c["pmds"]))
            ratio = (f"{c['median_s'] / b:.1f}x" if b and c.get("median_s") else "-")
            def num(k):
                return "-" if c.get(k) is None else str(c[k])
            ns = f"{c['ns_per_transition']:.0f}" if c.get("ns_per_transition") else "-"
            rss = f"{c['rss_kb'] / 1024:.0f}" if c.get("rss_kb") else "-"
            lines.append(
                f"| {c['threads']} | {c['pmds']} | {c['tool']} | {c['mode']} | {verdict} | "
                f"{num('states')} | {num('transitions')} | {num('cx_len')} | "
                f"{fmt_s(c.get('median_s'))} | {fmt_s(c.get('min_s'))}-{fmt_s(c.get('max_s'))} | "
                f"{c.get('n', 0)} | {ns} | {rss} | {ratio} |")
        lines.append("")
    lines += ["## Growth (fixed)", "",
              "Per added pmd (geometric mean over the doubling) and per added thread.", "",
              "| model | tool | mode | from T/N | to T/N | axis | time factor | state factor |",
              "|---|---|---|---|---|---|---:|---:|"]
    for g in doc["growth"]:
        sf = f"{g['state_factor']:.2f}" if g["state_factor"] else "-"
        lines.append(f"| {g['model']} | {g['tool']} | {g['mode']} | {g['from'][0]}/{g['from'][1]} | "
                     f"{g['to'][0]}/{g['to'][1]} | {g['axis']} | {g['time_factor']:.2f} | "
                     f"{sf} |")
    lines.append("")
    if doc["count_mismatches"]:
        lines += ["## Count mismatches", ""] + [f"- {x}" for x in doc["count_mismatches"]]
    else:
        lines += ["Every tool that counts states counted `expected-states.txt`'s states on "
                  f"every fixed cell it finished (SPIN: plus {doc['spin_state_offset']}, "
                  "see `bench/peers/spin/COUNTS.md`)."]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
