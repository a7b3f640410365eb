"""What a benchmark run's results say (scripts/bench.py measures, this prints): the tables with ratios,
the ecflow_client way beside wffs, the server's cost, memory and mount time, freshness, where wffs spends
the time, and each goal of the benchmark issue (issue 11) as pass, miss or n/a.

Pure functions of the results dict that ScaleRun.run() leaves (also saved as JSON), so that the goals'
bounds are tested without a server (tests/unit/test_bench.py).
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Dict, List, Optional

# What is measured and how it is named (scripts/bench.py runs it; the goals below judge it)
REFRESH = 2.0  # wffs's default --refresh
WFFS_IDLE_AFTER = 62.0  # wffs polls for CACHE_SECONDS + refresh after the last use (wffs/refresher.py)
POLL = 0.02  # freshness: os.path.exists every 20 ms

#: wffs's own entries at the root (about the server and the mount, not the suites): not copied, not archived
META = (".server", ".events")
TAR_EXCLUDE = " ".join(f"--exclude ./{n}" for n in META)
COMMANDS = [  # name, shell command ({m}: the directory), what the printed number is
    ("find", "find {m} | wc -l", "entries"),
    ("find_abo", "find {m} -name '*.abo' | wc -l", "aborted"),
    ("ls_lR", "ls -lR {m} | wc -l", "lines"),
    ("grep", "grep -r ERROR {m} --include='*.out' | wc -l", "matches"),
    ("tar", "tar cf - -C {m} " + TAR_EXCLUDE + " . | wc -c", "bytes"),
    ("backup", "find {m} \\( -name '*.ecf' -o -name '*.out' \\) -print0 | xargs -0 cat | wc -c", "bytes"),
]
LABELS = {"find": "find MNT | wc -l", "find_abo": "find MNT -name '*.abo'", "ls_lR": "ls -lR MNT",
          "grep": "grep -r ERROR --include=*.out", "tar": "tar cf - -C MNT . | wc -c",
          "backup": "backup: find .ecf/.out | xargs cat"}
BACKENDS = ("tmpfs", "floor", "wffs")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_s(x: Optional[float]) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}" if x >= 0.1 else f"{x:.3f}"


def fmt_ms(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.3f}"


def spread_ms(way: Dict[str, Any]) -> str:
    """The cold rounds of a client way, in ms a file (the median is the figure printed before)."""
    rounds = way.get("rounds_seconds") or []
    per = way.get("sampled") or way.get("files")
    if len(rounds) < 2 or not per:
        return ""
    return "; rounds " + " ".join(f"{1000 * x / per:.3g}" for x in rounds)


def fmt_x(x: Optional[float]) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}x" if x >= 100 else (f"{x:.1f}x" if x >= 10 else f"{x:.2f}x")


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b <= 0:
        return None
    return a / b


class Report:
    def __init__(self):
        self.lines: List[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def command_rows(r: Dict[str, Any]) -> List[Dict[str, Any]]:
    rows = []
    cmds = r.get("commands", {})
    for name, _, unit in COMMANDS:
        row: Dict[str, Any] = {"name": name, "unit": unit}
        for b in BACKENDS:
            e = cmds.get(b, {}).get(name)
            row[b] = None if e is None else (e["cold"]["seconds"], e["warm"]["seconds"], e["cold"]["out"],
                                              e["cold"]["rc"])
        t, f, w = (row[b][0] if row[b] else None for b in BACKENDS)
        row["wffs_floor"] = ratio(w, f)
        row["floor_tmpfs"] = ratio(f, t)
        row["wffs_tmpfs"] = ratio(w, t)
        row["wffs_cold_warm"] = ratio(w, row["wffs"][1] if row["wffs"] else None)
        rows.append(row)
    return rows


def goals(r: Dict[str, Any], idle_seconds: float) -> List[Dict[str, Any]]:
    out = []

    def goal(text, ok, detail):
        out.append({"goal": text, "status": "n/a" if ok is None else ("pass" if ok else "miss"), "detail": detail})

    rows = {row["name"]: row for row in command_rows(r)}
    for name, label in (("find", "find"), ("ls_lR", "ls -lR")):
        row = rows[name]
        goal(f"cold {label} within 1.5x of the FUSE floor",
             None if row["wffs_floor"] is None else row["wffs_floor"] <= 1.5,
             f"wffs/floor {fmt_x(row['wffs_floor'])} (wffs {fmt_s(row['wffs'][0] if row['wffs'] else None)} s, "
             f"floor {fmt_s(row['floor'][0] if row['floor'] else None)} s); floor/tmpfs {fmt_x(row['floor_tmpfs'])}, "
             f"wffs/tmpfs {fmt_x(row['wffs_tmpfs'])}")
    ls_cold = rows["ls_lR"]["wffs"][0] if rows["ls_lR"]["wffs"] else None
    goal("ls -lR cold under 2 s", None if ls_cold is None else ls_cold < 2.0, f"{fmt_s(ls_cold)} s")
    for name, label in (("grep", "grep -r"), ("tar", "tar|wc")):
        row = rows[name]
        goal(f"warm {label} at least 2x faster than cold",
             None if row["wffs_cold_warm"] is None else row["wffs_cold_warm"] >= 2.0,
             f"cold/warm {fmt_x(row['wffs_cold_warm'])} (cold {fmt_s(row['wffs'][0] if row['wffs'] else None)} s, "
             f"warm {fmt_s(row['wffs'][1] if row['wffs'] else None)} s); the floor's cold/warm "
             f"{fmt_x(ratio(*row['floor'][:2]) if row['floor'] else None)} (warm "
             f"{fmt_s(row['floor'][1] if row['floor'] else None)} s: the round trips no cache saves)")
    tc = r.get("tar_compare", {})
    wffs_tar = rows["tar"]["wffs"][2] if rows["tar"]["wffs"] else None
    tmpfs_tar = rows["tar"]["tmpfs"][2] if rows["tar"]["tmpfs"] else None
    same_bytes = wffs_tar is not None and wffs_tar == tmpfs_tar
    detail = (f"tar|wc -c: wffs {wffs_tar}, tmpfs copy {tmpfs_tar} ({'equal' if same_bytes else 'differ'}); "
              f"members {tc.get('members')}, content differs in {tc.get('n_content_differs')} "
              f"({tc.get('suite_att_clock_differs')} suite .att clock)")
    for field, d in tc.get("header_fields", {}).items():
        ex = d["examples"][1] if len(d["examples"]) > 1 else d["examples"][0]
        i = 3 if field == "mtime" else 2
        show = (lambda v: time.strftime("%H:%M:%S", time.localtime(v))) if field == "mtime" else oct
        detail += (f"; tar headers differ in {field} for {d['n']} members, e.g. {ex[0]}: copy {show(ex[1][i])},"
                   f" mount {show(ex[2][i])}")
    goal("tar|wc equal in bytes to the tmpfs copy's archive (and the same members and contents)",
         same_bytes and bool(tc.get("same_content")), detail)
    cl = r.get("client", {})
    wb = r.get("commands", {}).get("wffs", {}).get("backup")
    nfiles = r.get("tree", {}).get("scripts", 0) + r.get("tree", {}).get("outputs", 0)
    wffs_ms = 1000 * wb["cold"]["seconds"] / nfiles if wb and nfiles else None
    cli_ms = cl.get("cli_per_file", {}).get("ms_per_file")
    py_ms = cl.get("python_get_file", {}).get("ms_per_file")
    goal("backup at least 20x faster than one ecflow_client --file process per file",
         None if wffs_ms is None or cli_ms is None else cli_ms / wffs_ms >= 20,
         f"both cold (caches dropped): wffs {wffs_ms and round(wffs_ms, 3)} ms/file vs {cli_ms and round(cli_ms, 2)} "
         f"ms/file: {fmt_x(ratio(cli_ms, wffs_ms))} faster")
    goal("backup within 1.5x of a Python ecflow.Client.get_file loop",
         None if wffs_ms is None or py_ms is None else wffs_ms <= 1.5 * py_ms,
         f"both cold (caches dropped): wffs {wffs_ms and round(wffs_ms, 3)} ms/file vs get_file "
         f"{py_ms and round(py_ms, 3)} ms/file: wffs/get_file {fmt_x(ratio(wffs_ms, py_ms))}")
    abo = rows["find_abo"]["wffs"][0] if rows["find_abo"]["wffs"] else None
    gs = cl.get("aborted", {}).get("median")
    goal("find -name '*.abo' within 10x of ecflow_client --get_state | grep",
         None if abo is None or gs is None else abo <= 10 * gs,
         f"wffs cold {fmt_s(abo)} s vs {fmt_s(gs)} s: {fmt_x(ratio(abo, gs))} (one request cannot be beaten "
         "by a tree walk of thousands of lookups; within 10x is the target)")
    cost = r.get("server_cost")
    if cost:
        idle = cost["idle"]["requests"]
        window = cost["idle"]["window_seconds"]
        full = idle.get("Sync full", 0)
        news = idle.get("News", 0)
        allowed = int(window / REFRESH) + 1
        goal("idle mount: zero full definition downloads", full == 0, f"'Sync full' {full} in {window:.0f} s")
        others = {k: v for k, v in idle.items() if k not in ("News", "Sync", "Sync full")}
        stopped = cost.get("idle_after_polling_stops")
        if stopped:
            n = sum(stopped["requests"].values())
            goal("idle mount, better: no request at all once nobody reads", n == 0,
                 f"{n} requests in the {stopped['seconds']:.0f} s after wffs's polling window "
                 f"({WFFS_IDLE_AFTER:.0f} s after the last use)")
        goal("idle mount: at most one cheap request per refresh interval",
             news <= allowed and not others,
             f"News {news}, incremental Sync {idle.get('Sync', 0)} (after news of a change)"
             + (f", other {others}" if others else "") + f" in {window:.0f} s (<= {allowed} news allowed at "
             f"--refresh {REFRESH:g}); wffs polls for {WFFS_IDLE_AFTER:.0f} s after the last use")
    else:
        goal("idle mount: zero full definition downloads", None, "not measured (--idle-seconds 0)")
        goal("idle mount: at most one cheap request per refresh interval", None, "not measured (--idle-seconds 0)")
    wm = [m for m in r.get("mounts", []) if m["label"].startswith("wffs")]
    if wm:
        top = max(wm, key=lambda m: m["vmhwm_mount_kb"] or 0)
        peak_mount, peak_worker = top["vmhwm_mount_kb"] or 0, max(m["vmhwm_worker_kb"] or 0 for m in wm)
        typical = median([m["vmhwm_mount_kb"] for m in wm])
        goal("RSS under 150 MB (the wffs mount process; its worker beside it)", peak_mount < 150 * 1024,
             f"peak VmHWM of the mount process {peak_mount / 1024:.0f} MB ({top['phase']}; median over "
             f"{len(wm)} mounts {typical / 1024:.0f} MB), worker up to {peak_worker / 1024:.0f} MB")
    else:
        goal("RSS under 150 MB (the wffs mount process; its worker beside it)", None, "no wffs mount")
    mount_times = [m["mount_seconds"] for m in wm if m["mount_seconds"]]
    warm = [m["mount_seconds"] for m in wm if m["mount_seconds"] and not m.get("after_drop_caches")]
    cold = [m["mount_seconds"] for m in wm if m["mount_seconds"] and m.get("after_drop_caches")]
    goal("mount ready in under 3 s", None if not mount_times else median(mount_times) < 3.0,
         f"median {fmt_s(median(mount_times))} s over {len(mount_times)} mounts (start of `wffs mount` until "
         f"`ls MNT` lists the suites): {fmt_s(median(warm))} s with its code in the page cache ({len(warm)}), "
         f"{fmt_s(median(cold))} s right after drop_caches ({len(cold)}); max {fmt_s(max(mount_times, default=None))} s"
         + "".join(f"; the first mount (every script read: nothing kept from earlier mounts) {fmt_s(m['mount_seconds'])} s"
                   for m in wm if m["phase"] == "copy"))
    k = r["tasks"] / 1000
    per_k = ", ".join(f"{n} {rows[n]['wffs'][0] / k * 1000:.0f} ms" for n in ("find", "ls_lR", "grep", "tar")
                      if rows[n]["wffs"])
    goal("time per 1k tasks (cold wffs)", None, per_k + " per 1k tasks")
    return out


def print_scale(rep: Report, r: Dict[str, Any], idle_seconds: float) -> None:
    tree = r.get("tree", {})
    rep("")
    rep(f"=== scale {r['scale']}: {r['tasks']} tasks, {tree.get('directories')} directories, "
        f"{tree.get('files')} files, {tree.get('bytes', 0) / 1e6:.1f} MB "
        f"({tree.get('scripts')} scripts, {tree.get('outputs')} outputs) ===")
    rep("")
    if r.get("wffs"):
        rep(f"wffs measured: {r['wffs'].get('tree')} ({r['wffs'].get('describe', '')}); --refresh {REFRESH:g}")
    rounds = r.get("rounds", 1)
    rep("Seconds, wall clock; cold = fresh mount (wffs, floor) and caches dropped; warm = run again at once"
        + (f"; the median of {rounds} rounds (a fresh mount each)." if rounds > 1 else "."))
    hdr = (f"{'command':<34}{'tmpfs':>13}{'floor':>13}{'wffs':>13}   {'wffs/':>7}{'floor/':>8}{'wffs/':>8}"
           f"{'wffs':>8}   result (tmpfs | floor | wffs)")
    rep(hdr)
    rep(f"{'':<34}{'cold  warm':>13}{'cold  warm':>13}{'cold  warm':>13}   {'floor':>7}{'tmpfs':>8}{'tmpfs':>8}"
        f"{'c/w':>8}")
    for row in command_rows(r):
        cells = []
        for b in BACKENDS:
            v = row[b]
            cells.append(f"{fmt_s(v[0]):>6}{fmt_s(v[1]):>7}" if v else f"{'-':>13}")
        res = " | ".join((row[b][2] + ("" if row[b][3] == 0 else f" rc{row[b][3]}")) if row[b] else "-"
                         for b in BACKENDS)
        rep(f"{LABELS[row['name']]:<34}{''.join(cells)}   {fmt_x(row['wffs_floor']):>7}{fmt_x(row['floor_tmpfs']):>8}"
            f"{fmt_x(row['wffs_tmpfs']):>8}{fmt_x(row['wffs_cold_warm']):>8}   {res}")
    try:
        extra = int(r["commands"]["wffs"]["find"]["cold"]["out"]) - int(
            r["commands"]["tmpfs"]["find"]["cold"]["out"])
        rep(f"  (wffs also lists {' and '.join(META)} at its root: {extra} more entries than the copies, which "
            "leave them out, as tar does)")
    except (KeyError, ValueError):
        pass
    for key, label in (("tar_compare", "wffs"), ("tar_compare_floor", "floor")):
        tc = r.get(key)
        if tc:
            hf = ", ".join(f"{f} in {d['n']}" for f, d in tc.get("header_fields", {}).items())
            rep(f"  tar members {label} vs tmpfs copy: {tc['members'][1]} vs {tc['members'][0]}, missing "
                f"{tc['n_only'][0]}, extra {tc['n_only'][1]}, content differs in {tc['n_content_differs']}"
                + (f" ({tc['suite_att_clock_differs']} suite .att: clock variables)" if tc['n_content_differs'] else "")
                + f"; headers differ: {hf or 'none'}")
    if r.get("rounds", 1) > 1:
        rep("  cold runs of every round (s; tmpfs | floor | wffs):")
        for name, _, _ in COMMANDS:
            spread = " | ".join(" ".join(fmt_s(x) for x in r["commands"][b][name].get("cold_rounds", []))
                                for b in BACKENDS if name in r.get("commands", {}).get(b, {}))
            rep(f"    {LABELS[name]:<34}{spread}")
    dropped = all(e.get("dropped_caches", True) for b in r.get("commands", {}).values() for e in b.values())
    rep(f"  caches dropped before every cold run: {'yes' if dropped else 'NO (not permitted)'}")
    cl = r.get("client", {})
    rows = {row["name"]: row for row in command_rows(r)}
    nfiles = tree.get("scripts", 0) + tree.get("outputs", 0)
    rep("")
    rep("The ecflow_client way (what users do today) against wffs, same server:")
    if cl:
        ab = cl["aborted"]
        wabo = rows["find_abo"]["wffs"]
        rep(f"  list aborted: ecflow_client --get_state | grep -c state:aborted   {fmt_s(ab['median']):>7} s"
            f"  ({ab['count']} nodes)   wffs find -name '*.abo': cold {fmt_s(wabo[0] if wabo else None)} s, "
            f"warm {fmt_s(wabo[1] if wabo else None)} s ({wabo[2] if wabo else '-'} files) = "
            f"{fmt_x(ratio(wabo[0] if wabo else None, ab['median']))} the one request")
        cp = cl["cli_per_file"]
        py = cl["python_get_file"]
        wb = r["commands"]["wffs"]["backup"]
        wms_c = 1000 * wb["cold"]["seconds"] / nfiles
        wms_w = 1000 * wb["warm"]["seconds"] / nfiles
        cpw = cl.get("cli_per_file_warm", {}).get("ms_per_file")
        pyw = cl.get("python_get_file_warm", {}).get("ms_per_file")
        rep(f"  backup of {nfiles} scripts + outputs (cold: caches dropped first, as for wffs; warm: at once again):")
        rep(f"    one ecflow_client --file process per file  {cp['ms_per_file']:7.2f} ms/file cold, "
            f"{fmt_ms(cpw)} warm  (sampled {cp['sampled']}; {cp['extrapolated_seconds']:.1f} s for all {nfiles}, "
            f"EXTRAPOLATED){spread_ms(cp)}")
        rep(f"    one Python ecflow.Client.get_file loop     {py['ms_per_file']:7.3f} ms/file cold, {fmt_ms(pyw)} warm  "
            f"({py['seconds']:.2f} s for all {py['files']}; {py['errors']} errors){spread_ms(py)}")
        rep(f"    wffs: find .ecf/.out | xargs cat           {wms_c:7.3f} ms/file cold ({wb['cold']['seconds']:.2f} s), "
            f"{wms_w:.3f} warm")
        rep(f"      cold: {fmt_x(ratio(cp['ms_per_file'], wms_c))} faster than the processes, "
            f"{fmt_x(ratio(wms_c, py['ms_per_file']))} the get_file loop; warm: "
            f"{fmt_x(ratio(cpw, wms_w))} faster than the processes, {fmt_x(ratio(wms_w, pyw))} the get_file loop; "
            f"wffs cold against the warm clients: {fmt_x(ratio(cpw, wms_c))} and {fmt_x(ratio(wms_c, pyw))}")
        pg = cl["python_grep"]
        wg = rows["grep"]["wffs"]
        rep(f"  grep ERROR in {pg['files']} outputs via get_file: {pg['seconds']:.2f} s ({pg['matches']} matches); "
            f"wffs grep -r: cold {fmt_s(wg[0] if wg else None)} s, warm {fmt_s(wg[1] if wg else None)} s "
            f"({wg[2] if wg else '-'} matches)")
    tools = r.get("wffs_grep")
    if tools:
        wg = rows["grep"]["wffs"]
        for name, label in (("abo", "--state abo"), ("all", "(every output)")):
            t = tools[name]
            rep(f"  wffs-grep ERROR MNT {label:<16} cold {fmt_s(t['cold']['seconds']):>6} s, warm "
                f"{fmt_s(t['warm']['seconds']):>6} s ({t['cold']['out']} lines) vs grep -r over the mount: cold "
                f"{fmt_x(ratio(wg[0] if wg else None, t['cold']['seconds']))} "
                f"warm {fmt_x(ratio(wg[1] if wg else None, t['warm']['seconds']))} faster")
    rep(f"  Debian's /usr/bin/ecflow_fuse (ECMWF's prototype): {r.get('ecflow_fuse', {}).get('reason')}")
    cost = r.get("server_cost")
    rep("")
    rep("Server cost: requests counted by ecflow_server (--stats; our own stats probes left out):")
    cols = []
    if cost:
        cols = [("cold mount", cost["mount"]), ("then cold find", cost["find"]),
                (f"idle {cost['idle']['window_seconds']:.0f} s", cost["idle"])]
    wc = r.get("commands", {}).get("wffs", {})
    for name in ("find_abo", "ls_lR", "grep", "tar", "backup"):
        if name in wc:
            cols.append((f"cold {name}", wc[name]["server_cold"]))
    if cols:
        names = sorted({n for _, d in cols for n in d["requests"]})
        rep(f"  {'request':<22}" + "".join(f"{c:>16}" for c, _ in cols))
        for n in names:
            rep(f"  {n:<22}" + "".join(f"{d['requests'].get(n, 0):>16}" for _, d in cols))
        wired = [d["wire"] for _, d in cols if "wire" in d]
        if wired:
            rep(f"  {'bytes to the server':<22}" + "".join(f"{w['to_server']:>16}" for w in wired)
                + "   (on the wire: counted by a forwarder between")
            rep(f"  {'bytes from the server':<22}" + "".join(f"{w['from_server']:>16}" for w in wired)
                + "    the mount and the server; TCP payload)")
        rep(f"  {'server file writes':<22}" + "".join(f"{d.get('server_bytes_written', 0):>16}" for _, d in cols)
            + "   (/proc io wchar: its log and checkpoints; its replies, sent with sendmsg, are not in it)")
    buckets = cost.get("idle_timeline", []) if cost else []
    if buckets:
        rep("  idle timeline (requests per ~5 s since the find ended): " +
            " ".join(f"{b['t']:.0f}s:{sum(v for k, v in b.items() if k not in ('t', 'seconds'))}"
                     for b in buckets))
    if not cost:
        rep("  (cold mount + find and the idle mount: not measured, --idle-seconds 0)")
    rep("")
    wm = [m for m in r.get("mounts", []) if m["label"].startswith("wffs")]
    fm = [m for m in r.get("mounts", []) if m["label"].startswith("floor")]
    if wm:
        rep(f"Memory and mount time ({len(wm)} wffs mounts): mount time median "
            f"{fmt_s(median([m['mount_seconds'] for m in wm]))} s, max {fmt_s(max(m['mount_seconds'] for m in wm))} s;"
            f" peak VmHWM mount process {max(m['vmhwm_mount_kb'] or 0 for m in wm) / 1024:.0f} MB, worker "
            f"{max(m['vmhwm_worker_kb'] or 0 for m in wm) / 1024:.0f} MB")
        by_cmd = ", ".join(f"{m['phase'].split()[-1]} {(m['vmhwm_mount_kb'] or 0) / 1024:.0f}+"
                           f"{(m['vmhwm_worker_kb'] or 0) / 1024:.0f}"
                           for m in wm if m["phase"].startswith("wffs ") or m["phase"] == "copy")
        rep(f"  peak MB (mount+worker) after each cold+warm command: {by_cmd}")
    if fm:
        rep(f"  floor: mount time (loads the tree) median {fmt_s(median([m['mount_seconds'] for m in fm]))} s, "
            f"VmHWM {max(m['vmhwm_mount_kb'] or 0 for m in fm) / 1024:.0f} MB")
    fr = r.get("freshness", {})
    rep("")
    rep(f"Freshness (--refresh {REFRESH:g}; server change -> status file visible, polled every {POLL * 1000:.0f} ms):")
    for key, label in (("idle", "idle mount (first access wakes it)"), ("busy", "during a find loop")):
        s = fr.get(key)
        if s:
            rep(f"  {label:<38} median {fmt_s(s['median'])} s, max {fmt_s(s['max'])} s  (n={s['n']}, "
                f"missed {s['missed']})" + (f"  [{fr.get('idle_note')}]" if key == "idle" else ""))
    ops = r.get("wffs_ops", {})
    if ops:
        rep("")
        rep("Where wffs spends the time (instrumented mounts, cold; counts of FUSE operations and backend calls):")
        for name, d in ops.items():
            c = d["counts"]
            sec = d["handler_seconds"]
            def op(k, v):
                return f"{k[5:]} {v}" + (f" ({sec[k]:.2f} s)" if sec.get(k, 0) >= 0.05 else "")
            fuse = ", ".join([op("fuse.lookup", c.get("fuse.lookup", 0)), op("fuse.getattr", c.get("fuse.getattr", 0))]
                             + [op(k, v) for k, v in c.items() if k.startswith("fuse.")
                                and k not in ("fuse.lookup", "fuse.getattr")])
            be = ", ".join(f"{k[8:]} {v} ({sec.get(k, 0):.2f} s)" for k, v in c.items() if k.startswith("backend."))
            floor_ops = r.get("commands", {}).get("floor", {}).get(name, {}).get("ops_cold", {})
            rep(f"  {name:<7} wffs: {fuse}")
            rep(f"  {'':<7} backend calls: {be or 'none'}")
            if floor_ops:
                rep(f"  {'':<7} floor: " + ", ".join(f"{k} {v}" for k, v in floor_ops.items()))
            if "counts_warm" in d:  # (warm: the same command again at once)
                warm_ops = {k: v for k, v in d["counts_warm"].items() if v}
                rep(f"  {'':<7} warm, wffs: " + (", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in warm_ops.items()
                                                           if k.startswith("fuse.")) or "nothing")
                    + "; backend calls: " + (", ".join(f"{k[8:]} {v}" for k, v in warm_ops.items()
                                                       if k.startswith("backend.")) or "none"))
    if r.get("notes"):
        rep("")
        rep("Notes:")
        for n in r["notes"]:
            rep(f"  {n}")
    rep("")
    rep(f"Goals (scale {r['scale']}; the issue's targets are for 10k tasks):")
    for g in r["goals"]:
        rep(f"  [{g['status']:>4}] {g['goal']}: {g['detail']}")


def per_k_table(rep: Report, results: List[Dict[str, Any]]) -> None:
    """Cold wffs time per 1k tasks at each scale: a flat column is linear growth."""
    if len(results) < 2:
        return
    names = [n for n, _, _ in COMMANDS]
    rep("")
    rep("Cost per 1k tasks, cold wffs (ms per 1k tasks; linear growth keeps a column flat):")
    rep(f"  {'scale':<10}" + "".join(f"{n:>10}" for n in names))
    per_k = []
    for r in results:
        rows = {row["name"]: row for row in command_rows(r)}
        k = r["tasks"] / 1000
        values = {n: 1000 * rows[n]["wffs"][0] / k if rows[n]["wffs"] else None for n in names}
        per_k.append(values)
        rep(f"  {r['scale']:<10}" + "".join(f"{fmt_s(values[n]):>10}" for n in names))
    small, large = per_k[0], per_k[-1]
    rep(f"  {results[-1]['scale'] + '/' + results[0]['scale']:<10}" +
        "".join(f"{fmt_x(ratio(large[n], small[n])):>10}" for n in names) + "   (1x: linear)")
