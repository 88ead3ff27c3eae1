"""The reference the ingest speed bar is set against: python-polars reads one
household-income sheet with the calamine engine, cleans it the way a
careful analyst would, and writes Parquet. Usage: python3 bench_polars.py FILE.xlsx
Prints the wall time in seconds. Needs `pip install polars fastexcel`."""
import sys
import tempfile
import time

import polars as pl

start = time.perf_counter()
df = pl.read_excel(sys.argv[1], engine="calamine")
names = dict(zip(df.columns, [
    "household_id", "county", "township", "village", "year", "members",
    "net_income", "is_member", "community_id", "joined_year"]))
df = df.rename(names)
df = df.filter(~pl.col("village").str.contains("合计|小计|总计"))
df = df.with_columns(
    pl.col("county", "township", "village").str.strip_chars(),
    pl.col("members").cast(pl.Int64, strict=False),
    pl.col("net_income").cast(pl.Float64, strict=False),
    pl.col("is_member").replace_strict({"是": True, "否": False}, default=None),
)
with tempfile.TemporaryDirectory() as d:
    df.write_parquet(f"{d}/household_income.parquet", compression="zstd")
print(f"{time.perf_counter() - start:.2f}")
