"""Runs every indicator query of pipelines/indicators.toml on DuckDB (and,
with --spark, on Spark SQL) over OUT/lake as it lies, through the views
`zhenxing docs` writes (views_duckdb.sql, views_spark.sql), and compares
every column of the unit rows (period, county_code, village_code, unit,
category, num, den, reported) with zhenxing's own result over the same
lake (`zhenxing query --as-indicators`, written to Parquet so no digit is
lost). Checks that the published SQL and views run on other engines and
give the same rows.

    pip install duckdb          # and pyspark (with a Java runtime) for --spark
    python3 tests/sql_duckdb.py OUT [zhenxing binary] [--spark]
"""

import pathlib
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

tmp = pathlib.Path(tempfile.mkdtemp())
subprocess.run([zx, "docs", "--out", out, "--dir", str(tmp)], check=True, stdout=subprocess.DEVNULL)


def statements(path):
    text = (tmp / path).read_text()
    lines = [line for line in text.splitlines() if not line.startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip()]


con = duckdb.connect()
for st in statements("views_duckdb.sql"):
    con.execute(st)

spark = None
if use_spark:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.master("local[2]").appName("zhenxing-sql").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    for st in statements("views_spark.sql"):
        spark.sql(st.rstrip(";"))


def key(r):
    return tuple("" if x is None else str(x) for x in r[:5])


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))


def same_rows(xs, ys):
    xs, ys = sorted(xs, key=key), sorted(ys, key=key)
    return len(xs) == len(ys) and all(
        key(a) == key(b) and close(a[5], b[5]) and close(a[6], b[6]) and a[7] == b[7] for a, b in zip(xs, ys)
    )


ok = total = 0
for ind in defs["indicator"]:
    for label, each in ind.get("each", [[None, None]]):
        sql = ind["sql"]
        for k, v in params.items():
            sql = sql.replace("{{%s}}" % k, v)
        if label:
            sql = sql.replace("{{each_label}}", label).replace("{{each}}", each)
        category = "CAST(category AS {t})" if "AS category" in sql else "CAST(NULL AS {t})"
        cols = ("CAST(period AS {t}) AS period, CAST(county_code AS {t}) AS county_code, "
                "CAST(village_code AS {t}) AS village_code, CAST(unit AS {t}) AS unit, " + category +
                " AS category, CAST(num AS DOUBLE) AS num, CAST(den AS DOUBLE) AS den, "
                "CAST(reported AS BIGINT) AS reported")
        duck = con.execute(f"SELECT {cols.format(t='VARCHAR')} FROM ({sql}) q").fetchall()
        pq = tmp / "ours.parquet"
        subprocess.run([zx, "query", "--out", out, "--as-indicators", "--parquet", str(pq),
                        f"SELECT {cols.format(t='STRING')} FROM ({sql}) q"],
                       check=True, stdout=subprocess.DEVNULL)
        ours = duckdb.connect().execute(f"SELECT * FROM read_parquet('{pq}')").fetchall()
        same = same_rows(duck, ours)
        if spark is not None:
            rows = spark.sql(f"SELECT {cols.format(t='STRING')} FROM ({sql}) q").collect()
            same = same and same_rows([tuple(r) for r in rows], ours)
        print(("same     " if same else "DIFFERENT"), ind["id"], label or "", len(ours), "rows")
        ok += same
        total += 1
print(ok, "of", total, "queries give the same rows on DuckDB" + (" and Spark SQL" if spark is not None else ""),
      "reading the lake through the views of `zhenxing docs`")
sys.exit(0 if ok == total else 1)
