"""Runs every indicator query of pipelines/indicators.toml on DuckDB (and,
with --spark, on Spark SQL), over
the tables exactly as zhenxing's SQL sees them (exported with
`zhenxing query --parquet`), and compares the unit rows with zhenxing's
own (polars SQL) result. Checks the claim that the definitions keep to a
portable SQL subset.

    pip install duckdb          # and pyspark (with a Java runtime) for --spark
    python3 tests/sql_duckdb.py OUT [zhenxing binary] [--spark]
"""

import pathlib
import re
import subprocess
import sys
import tempfile
import tomllib

import duckdb

args = [a for a in sys.argv[1:] if a != "--spark"]
use_spark = "--spark" in sys.argv
out = args[0]
zx = args[1] if len(args) > 1 else "target/release/zhenxing"
defs = tomllib.loads(pathlib.Path("pipelines/indicators.toml").read_text())
params = {k: (f"'{v}'" if isinstance(v, str) else str(v)) for k, v in defs["params"].items()}

# every table a query reads (after FROM or JOIN, not a subquery)
tables = set()
for ind in defs["indicator"]:
    tables.add(ind["dataset"])
    tables |= {t for t in re.findall(r"(?:FROM|JOIN)\s+([a-z_]+)", ind["sql"])
               if t == "villages" or t.endswith("_periods")}
tmp = pathlib.Path(tempfile.mkdtemp())
con = duckdb.connect()
for t in sorted(tables):
    f = tmp / f"{t}.parquet"
    subprocess.run([zx, "query", "--out", out, "--parquet", str(f), f"SELECT * FROM {t}"], check=True,
                   stdout=subprocess.DEVNULL)
    con.execute(f"CREATE VIEW {t} AS SELECT * FROM '{f}'")

spark = None
if use_spark:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.master("local[2]").appName("zhenxing-sql").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    for t in sorted(tables):
        spark.read.parquet(str(tmp / f"{t}.parquet")).createOrReplaceTempView(t)

ok = 0
for ind in defs["indicator"]:
    for label, each in ind.get("each", [[None, None]]):
        sql = ind["sql"]
        for k, v in params.items():
            sql = sql.replace("{{%s}}" % k, v)
        if label:
            sql = sql.replace("{{each_label}}", label).replace("{{each}}", each)
        duck = con.execute(f"SELECT period, unit, CAST(num AS DOUBLE), CAST(den AS DOUBLE) FROM ({sql}) ORDER BY ALL").fetchall()
        csv = subprocess.run([zx, "query", "--out", out, "--csv",
                              f"SELECT period, unit, CAST(num AS DOUBLE) AS num, CAST(den AS DOUBLE) AS den FROM ({sql}) q"],
                             check=True, capture_output=True, text=True).stdout.splitlines()[1:]
        def num(x):
            return None if x == "" else float(x)
        ours = sorted((p, u, num(n), num(d)) for p, u, n, d in (r.split(",") for r in csv))
        duck = sorted(duck, key=lambda r: (r[0], r[1], r[2] if r[2] is not None else -1e300, r[3] if r[3] is not None else -1e300))
        ours = sorted(ours, key=lambda r: (r[0], r[1], r[2] if r[2] is not None else -1e300, r[3] if r[3] is not None else -1e300))
        same = len(duck) == len(ours) and all(
            a[0] == b[0] and a[1] == b[1] and all((x is None and y is None) or (x is not None and y is not None and abs(x - y) <= 1e-9 * max(1, abs(x))) for x, y in zip(a[2:], b[2:]))
            for a, b in zip(duck, ours))
        if spark is not None:
            rows = spark.sql(f"SELECT period, unit, CAST(num AS DOUBLE) AS num, CAST(den AS DOUBLE) AS den FROM ({sql}) q").collect()
            sp = sorted(((r[0], r[1], r[2], r[3]) for r in rows),
                        key=lambda r: (r[0], r[1], r[2] if r[2] is not None else -1e300, r[3] if r[3] is not None else -1e300))
            same = same and len(sp) == len(ours) and all(
                a[0] == b[0] and a[1] == b[1] and all((x is None and y is None) or (x is not None and y is not None and abs(x - y) <= 1e-9 * max(1, abs(x))) for x, y in zip(a[2:], b[2:]))
                for a, b in zip(sp, ours))
        print(("same     " if same else "DIFFERENT"), ind["id"], label or "", len(duck), "rows")
        ok += same
print(ok, "queries give the same rows on DuckDB" + (" and Spark SQL" if spark is not None else ""))
