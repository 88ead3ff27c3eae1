"""Reads every dataset of a zhenxing lake with each engine that is installed
(polars, pyarrow, DuckDB, Spark) and checks that all of them see the same
rows and the same column types. Usage: python3 lake_readers.py OUT/lake
Needs some of: pip install polars pyarrow duckdb pyspark (Spark needs Java).
Exit 1 when two engines disagree."""
import os
import sys

lake = os.path.realpath(sys.argv[1])
datasets = sorted(d for d in os.listdir(lake) if not d.startswith(("_", ".")))


def kind(t):
    """An engine's type name, reduced to a family all engines share."""
    t = str(t).lower()
    for word, fam in [("bool", "bool"), ("date", "date"), ("int", "int"), ("bigint", "int"),
                      ("long", "int"), ("double", "float"), ("float", "float"),
                      ("str", "string"), ("utf8", "string"), ("varchar", "string")]:
        if word in t:
            return fam
    return t


readers = {}
try:
    import polars as pl
    readers["polars"] = lambda p: (lambda df: (df.height, {c: kind(t) for c, t in df.schema.items()}))(
        pl.scan_parquet(p + "/**/*.parquet", hive_partitioning=True).collect())
except ImportError:
    pass
try:
    import pyarrow.dataset as ds
    readers["pyarrow"] = lambda p: (lambda t: (t.num_rows, {f.name: kind(f.type) for f in t.schema}))(
        ds.dataset(p, format="parquet", partitioning="hive").to_table())
except ImportError:
    pass
try:
    import duckdb
    def duck(p):
        rel = duckdb.sql(f"select * from read_parquet('{p}/**/*.parquet', hive_partitioning=true)")
        n = duckdb.sql(f"select count(*) from read_parquet('{p}/**/*.parquet', hive_partitioning=true)").fetchall()[0][0]
        return n, {c: kind(t) for c, t in zip(rel.columns, rel.types)}
    readers["duckdb"] = duck
except ImportError:
    pass
try:
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    readers["spark"] = lambda p: (lambda df: (df.count(), {f.name: kind(f.dataType) for f in df.schema.fields}))(
        spark.read.parquet(p))
except Exception:
    pass

bad = 0
print("engines:", ", ".join(readers))
for d in datasets:
    got = {name: r(os.path.join(lake, d)) for name, r in readers.items()}
    rows = {n: g[0] for n, g in got.items()}
    schemas = {n: g[1] for n, g in got.items()}
    first = next(iter(schemas.values()))
    same_rows = len(set(rows.values())) == 1
    # partition columns are inferred (int32 vs int64): compare families
    same_types = all(s == first for s in schemas.values())
    if not (same_rows and same_types):
        bad += 1
        for n, s in schemas.items():
            diff = {c: t for c, t in s.items() if first.get(c) != t}
            if diff or rows[n] != rows[next(iter(rows))]:
                print(f"  {d}: {n} rows {rows[n]} differs in {diff}")
    print(f"{d:20} rows {rows}  columns {len(first)}  {'same' if same_rows and same_types else 'DIFFERENT'}")
sys.exit(1 if bad else 0)
