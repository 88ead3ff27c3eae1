#!/usr/bin/env python3
"""Compares two zhenxing output folders made from the same inbox, for
example by the binary before and after a refactoring:

    python3 tests/compare_outputs.py OUT_A OUT_B

The lake (every Parquet file: schema, rows, key-value metadata), the run
manifests and the runs table, the indicator tables and their stamp, and
the report folders (every part of every xlsx, the HTML and SVG) must be
the same, except for what differs between any two runs: run ids and
timestamps, which are replaced by placeholders first. Prints what differs
and exits 1, or prints what was compared and exits 0. Needs pyarrow.
"""
import json
import os
import re
import sys
import zipfile

import pyarrow.parquet as pq

RUN_ID = re.compile(r"\d{8}T\d{6,9}Z-[0-9a-f]{4}")
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
# durations and peaks that a run measures (manifests, summaries)
MEASURED = {"read_ms", "total_ms", "ended", "started", "created"}


def norm_text(s):
    return STAMP.sub("<time>", RUN_ID.sub("<run>", s))


def norm_json(v, key=None):
    if key in MEASURED:
        return "<measured>"
    if isinstance(v, dict):
        return {norm_text(k): norm_json(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [norm_json(x) for x in v]
    if isinstance(v, str):
        return norm_text(v)
    return v


def parquet_view(path):
    f = pq.ParquetFile(path)
    meta = f.schema_arrow.metadata or {}
    kv = {
        norm_text(k.decode()): norm_text(v.decode())
        for k, v in meta.items()
        if not k.startswith(b"ARROW:")
    }
    t = f.read()
    rows = [norm_json(r) for r in t.to_pylist()]
    return {"schema": str(t.schema.remove_metadata()), "kv": kv, "rows": rows}


def xlsx_view(path):
    with zipfile.ZipFile(path) as z:
        return {n: norm_text(z.read(n).decode("utf-8", "replace")) for n in sorted(z.namelist())}


def files_under(root):
    out = {}
    for d, _, names in os.walk(root, followlinks=True):
        for n in names:
            if n.endswith(".tmp"):
                continue
            p = os.path.join(d, n)
            out[norm_text(os.path.relpath(p, root))] = p
    return out


def view(path):
    if path.endswith(".parquet"):
        return parquet_view(path)
    if path.endswith(".xlsx"):
        return xlsx_view(path)
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".json"):
        return norm_json(json.loads(data))
    return norm_text(data.decode("utf-8", "replace"))


def main(a, b):
    problems, compared = [], 0
    for part in ["lake", "runs", "indicators", "reports"]:
        fa, fb = files_under(os.path.join(a, part)), files_under(os.path.join(b, part))
        if part == "runs":
            # one manifest per run: compare them in order (by their own
            # names, which sort by time; the normalised names are all one)
            def manifests(root):
                d = os.path.join(root, part)
                names = os.listdir(d) if os.path.isdir(d) else []
                return sorted(os.path.join(d, n) for n in names if n.endswith(".json"))
            ja, jb = manifests(a), manifests(b)
            if len(ja) != len(jb):
                problems.append(f"runs: {len(ja)} manifests against {len(jb)}")
            for x, y in zip(ja, jb):
                compared += 1
                if view(x) != view(y):
                    problems.append(f"runs/{os.path.basename(x)} differs from runs/{os.path.basename(y)}")
            fa = {k: v for k, v in fa.items() if not k.endswith(".json")}
            fb = {k: v for k, v in fb.items() if not k.endswith(".json")}
        for k in sorted(set(fa) | set(fb)):
            if k not in fa or k not in fb:
                problems.append(f"{part}/{k} only in {'the second' if k not in fa else 'the first'}")
                continue
            compared += 1
            if view(fa[k]) != view(fb[k]):
                problems.append(f"{part}/{k} differs")
    for p in problems:
        print(p)
    print(f"{compared} files compared, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
