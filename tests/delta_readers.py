"""Reads every Delta table zhenxing committed with DuckDB (delta_scan, the
extension from PyPI), polars (scan_delta) and Python deltalake, and checks
that each sees exactly the rows and column types of zhenxing's own files
(the folder lake and OUT/indicators).

Usage: python3 delta_readers.py ROOT OUT
  ROOT  the Delta root: a folder or s3://bucket/prefix (S3 settings from
        the AWS_* environment variables, AWS_ENDPOINT_URL for a local server)
  OUT   zhenxing's output folder (OUT/lake, OUT/indicators)
Needs: pip install duckdb==1.5.5 duckdb-extension-delta==1.5.5 deltalake polars pyarrow
(and duckdb-extension-httpfs==1.5.5, boto3 for an s3:// root)
Prints one line per table and engine; exit 1 when any differs."""
import glob
import os
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

root, out = sys.argv[1].rstrip("/"), os.path.realpath(sys.argv[2])
remote = "://" in root


def storage_options():
    if not remote:
        return None
    opts = {}
    for env, key in [("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
                     ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
                     ("AWS_REGION", "AWS_REGION"),
                     ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL")]:
        if os.environ.get(env):
            opts[key] = os.environ[env]
    if opts.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        opts["AWS_ALLOW_HTTP"] = "true"
    return opts


def normal(t):
    """One arrow type per family, so engines' spellings compare equal."""
    fields = []
    for f in t.schema:
        ty = f.type
        if pa.types.is_dictionary(ty):
            ty = ty.value_type
        if pa.types.is_string(ty) or pa.types.is_large_string(ty) or pa.types.is_string_view(ty):
            ty = pa.string()
        elif pa.types.is_integer(ty):
            ty = pa.int64()
        elif pa.types.is_date(ty):
            ty = pa.date32()
        fields.append((f.name, ty))
    cols = [pc.cast(t.column(n), ty) for n, ty in fields]
    t = pa.table(cols, names=[n for n, _ in fields])
    return t.sort_by([(n, "ascending") for n in t.column_names]) if t.num_rows else t


def reference(table):
    """zhenxing's own files for a table, with partition columns from the path."""
    if table in ("indicators", "income_effects"):
        return pq.read_table(os.path.join(out, "indicators", table + ".parquet"))
    base = os.path.join(out, "lake", table)
    parts = []
    for f in sorted(glob.glob(base + "/**/*.parquet", recursive=True)):
        t = pq.read_table(f)
        rel = os.path.relpath(os.path.dirname(f), base)
        for kv in [] if rel == "." else rel.split("/"):
            k, v = kv.split("=", 1)
            col = pa.array([int(v)] * t.num_rows, pa.int64()) if k == "year" \
                else pa.array([v] * t.num_rows, pa.string())
            t = t.append_column(k, col)
        parts.append(t)
    return pa.concat_tables(parts) if parts else None


def tables():
    if remote:
        import boto3
        bucket, _, prefix = root.split("://", 1)[1].partition("/")
        s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
        names = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
            for o in page.get("Contents", []):
                rel = o["Key"][len(prefix) + 1:]
                if "/_delta_log/" in rel:
                    names.add(rel.split("/", 1)[0])
        return sorted(names)
    return sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d, "_delta_log")))


readers = {}

import deltalake
readers["deltalake"] = lambda uri: deltalake.DeltaTable(uri, storage_options=storage_options()).to_pyarrow_table()

import polars as pl
readers["polars"] = lambda uri: pl.scan_delta(uri, storage_options=storage_options()).collect().to_arrow()

import duckdb
con = duckdb.connect()


def load(package, name):
    """Loads a DuckDB extension from its PyPI package (no download at run time)."""
    mod = __import__(package)
    path = glob.glob(os.path.join(os.path.dirname(mod.__file__), "extensions", "*", name + ".duckdb_extension"))
    con.execute(f"LOAD '{path[0]}'")


load("duckdb_extension_delta", "delta")
if remote:
    load("duckdb_extension_httpfs", "httpfs")
if remote:
    ep = os.environ.get("AWS_ENDPOINT_URL", "")
    host = ep.split("://", 1)[-1]
    con.execute(f"""CREATE SECRET s3 (TYPE s3, KEY_ID '{os.environ.get("AWS_ACCESS_KEY_ID", "")}',
        SECRET '{os.environ.get("AWS_SECRET_ACCESS_KEY", "")}', REGION '{os.environ.get("AWS_REGION", "us-east-1")}'
        {f", ENDPOINT '{host}', URL_STYLE 'path', USE_SSL {str(ep.startswith('https')).lower()}" if ep else ""})""")
readers["duckdb"] = lambda uri: con.execute(f"SELECT * FROM delta_scan('{uri}')").to_arrow_table()

bad = 0
names = tables()
print("engines:", ", ".join(readers), "| tables:", len(names))
for name in names:
    ref = reference(name)
    want = normal(ref)
    for engine, read in readers.items():
        got = read(f"{root}/{name}")
        got = normal(got.select(want.column_names)) if set(got.column_names) == set(want.column_names) else None
        if got is None:
            bad += 1
            print(f"{name:<18} {engine:<10} DIFFERENT columns")
        elif got.schema != want.schema:
            bad += 1
            print(f"{name:<18} {engine:<10} DIFFERENT types: {got.schema} vs {want.schema}")
        elif not got.equals(want):
            bad += 1
            print(f"{name:<18} {engine:<10} DIFFERENT rows: {got.num_rows} vs {want.num_rows}")
        else:
            print(f"{name:<18} {engine:<10} same {got.num_rows} rows, {got.num_columns} columns")
print(f"{'all engines agree' if bad == 0 else f'{bad} differences'}")
sys.exit(1 if bad else 0)
