"""zhenxing's indicator table on Spark.

Written by `zhenxing docs --spark DIR` beside views.sql (the lake's tables
as Spark SQL views) and indicators.json (every indicator: its SQL with the
parameters filled in, how it adds up, its names). It computes the table
zhenxing writes to OUT/indicators/indicators.parquet, with the same rows
and values: each indicator's SQL gives one row per counted unit, and the
rows of every indicator are added up together per city, county, township
(and village where asked) in Spark SQL.

    spark-submit job.py --out hdfs:///zhenxing/indicators.parquet [--lake s3a://bucket/lake]
    python3 job.py --out /tmp/indicators.parquet          # local[2] without spark-submit

--lake is the lake folder (OUT/lake, or where it was copied; default: the
one `zhenxing docs` was given). --run-id names the lake version in the
run_id column (default: the one in the lake's _zhenxing/version.json).
"""

import argparse
import json
import os
import re
import sys
import tempfile
import time
from functools import reduce

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

# views.sql and indicators.json lie beside this file (client mode) or in
# the working folder (cluster mode, shipped with --files)
HERE = os.path.dirname(os.path.abspath(__file__))
if not os.path.exists(os.path.join(HERE, "indicators.json")):
    HERE = os.getcwd()
with open(os.path.join(HERE, "indicators.json"), encoding="utf-8") as f:
    META = json.load(f)

ap = argparse.ArgumentParser(description="zhenxing's indicators on Spark")
ap.add_argument("--out", required=True, help="where to write indicators.parquet (a Spark output folder)")
ap.add_argument("--lake", default=META["lake"], help="the lake folder (default: %(default)s)")
ap.add_argument("--run-id", default=None, help="the lake version for the run_id column")
ap.add_argument("--master", default=None, help="Spark master when not under spark-submit (default local[2])")
args = ap.parse_args()
started = time.monotonic()


def say(text):
    print(f"[{time.monotonic() - started:6.1f} s] {text}", file=sys.stderr, flush=True)


builder = SparkSession.builder.appName("zhenxing-indicators")
# spark-submit starts the driver with its own master and settings; plain
# python gets local[2] and few shuffle partitions (a city's rows are few)
if args.master or "PYSPARK_GATEWAY_PORT" not in os.environ:
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--driver-memory 2g pyspark-shell")
    builder = (builder.master(args.master or "local[2]")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               # no spark-warehouse/ folder left where the job was started
               .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="zhenxing-spark-")))
spark = builder.getOrCreate()
spark.sparkContext.setLogLevel("ERROR")
# the union of every indicator's rows is wide; Spark 4.0's constraint
# propagation over it fails ("key not found") and only slows planning here
spark.conf.set("spark.sql.constraintPropagation.enabled", "false")
lake = args.lake.rstrip("/")

# the views: the same tables the indicator SQL sees inside zhenxing. Each
# is computed once and kept (the indicators read them over and over);
# later views are defined over the kept ones.
with open(os.path.join(HERE, "views.sql"), encoding="utf-8") as f:
    views = f.read().replace("__LAKE__", lake)
lines = [line for line in views.splitlines() if not line.startswith("--")]
for statement in "\n".join(lines).split(";\n"):
    statement = statement.strip().rstrip(";")
    if not statement:
        continue
    spark.sql(statement)
    m = re.match(r"CREATE OR REPLACE TEMPORARY VIEW (\w+)", statement)
    if m:
        spark.table(m.group(1)).localCheckpoint(eager=True).createOrReplaceTempView(m.group(1))
say("views ready")

run_id = args.run_id
if run_id is None:
    for row in spark.read.text(lake + "/_zhenxing/version.json").collect():
        m = re.search(r'"run_id"\s*:\s*"([^"]+)"', row.value)
        if m:
            run_id = m.group(1)
            break

# ---- the registry: today's villages and those merged away on a known date
reg = spark.sql(
    "SELECT CAST(village_code AS STRING) AS code, county, township, village, merged_on FROM villages "
    "WHERE length(village_code) >= 9 AND (merged_into IS NULL OR merged_on IS NOT NULL)")
active = reg.where(F.col("merged_on").isNull())
c6, c9 = F.substring("code", 1, 6), F.substring("code", 1, 9)
areas = (
    active.where(F.col("county").isNotNull()).groupBy(F.lit(1).alias("level"), c6.alias("code"))
    .agg(F.min("county").alias("name"))
    .unionByName(active.where(F.col("township").isNotNull()).groupBy(F.lit(2).alias("level"), c9.alias("code"))
                 .agg(F.min("township").alias("name")))
    .unionByName(reg.where(F.col("village").isNotNull()).groupBy(F.lit(3).alias("level"), F.col("code"))
                 .agg(F.max("village").alias("name")))
)
counts = (active.groupBy(F.lit(1).alias("level"), c6.alias("code")).agg(F.count(F.lit(1)).alias("area_n"))
          .unionByName(active.groupBy(F.lit(2).alias("level"), c9.alias("code")).agg(F.count(F.lit(1)).alias("area_n"))))
areas = areas.join(counts, ["level", "code"], "full").localCheckpoint(eager=True)
villages_total = active.count()
merged = reg.where(F.col("merged_on").isNotNull()).select("code", "merged_on").localCheckpoint(eager=True)
first_county = active.where(F.col("county").isNotNull()).agg(F.min(c6)).collect()[0][0]
CITY_CODE = (first_county[:4] + "00") if first_county else "000000"

# the last reported month (or quarter) of each county and year of the
# monthly datasets: the period that stands for the year
year_ends = None
for ds in META["year_end_datasets"]:
    ends = spark.sql(
        f"SELECT '{ds}' AS dataset, CAST(county_code AS STRING) AS county, substr(period, 1, 4) AS year, "
        f"max(period) AS last FROM {ds} WHERE length(period) > 4 AND substr(period, 1, 4) RLIKE '^[0-9]{{4}}$' "
        f"GROUP BY CAST(county_code AS STRING), substr(period, 1, 4)")
    year_ends = ends if year_ends is None else year_ends.unionByName(ends)

# ---- every indicator's unit rows, typed as zhenxing reads them
parts = []
for i, ind in enumerate(META["indicators"]):
    rows = []
    for label, sql in ind["queries"]:
        df = spark.sql(sql)
        cols = set(df.columns)
        text = lambda c: F.col(c).cast("string")  # noqa: E731
        none = F.lit(None).cast("string")
        category = F.lit(label) if label is not None else (text("category") if "category" in cols else none)
        rows.append(df.select(
            F.lit(i).alias("_i"),
            text("period").alias("period"),
            category.alias("category"),
            text("county_code").alias("county"),
            (text("village_code") if "village_code" in cols else none).alias("village"),
            F.coalesce(text("unit"), F.lit("")).alias("unit"),
            F.col("num").cast("double").alias("num"),
            (F.col("den").cast("double") if "den" in cols else F.lit(1.0)).alias("den"),
            (F.coalesce(F.col("reported").cast("double") != 0, F.lit(False)) if "reported" in cols
             else F.lit(True)).alias("reported"),
        ).where(F.col("period").isNotNull() & F.col("county").isNotNull()))
    parts.append(reduce(lambda a, b: a.unionByName(b), rows).localCheckpoint(eager=True))
    say(f"{ind['id']}: unit rows")
units = reduce(lambda a, b: a.unionByName(b), parts)

# how each indicator adds up, as a table beside the rows
meta = spark.createDataFrame(
    [(i, ind["aggregate"], float(ind["scale"]), bool(ind["once_per_unit"]), bool(ind["village_rows"]),
      ind["rank"], ind["dataset"]) for i, ind in enumerate(META["indicators"])],
    T.StructType([T.StructField("_i", T.IntegerType()), T.StructField("agg", T.StringType()),
                  T.StructField("scale", T.DoubleType()), T.StructField("opu", T.BooleanType()),
                  T.StructField("vrows", T.BooleanType()), T.StructField("rank_order", T.StringType()),
                  T.StructField("dataset", T.StringType())]))
units = units.join(F.broadcast(meta), "_i")

# ---- each unit row once per level: city, its county, its township (the
# first 9 digits of the village code) and its village where asked
town = F.when(F.length("village") >= 9, F.substring("village", 1, 9))
key = T.StructType([T.StructField("level", T.IntegerType()), T.StructField("code", T.StringType())])
levels = F.array(
    F.struct(F.lit(0).alias("level"), F.lit(CITY_CODE).alias("code")),
    F.struct(F.lit(1).alias("level"), F.col("county").alias("code")),
    F.when(town.isNotNull(), F.struct(F.lit(2).alias("level"), town.alias("code"))),
    F.when(town.isNotNull() & F.col("vrows"), F.struct(F.lit(3).alias("level"), F.col("village").alias("code"))),
).cast(T.ArrayType(key))
k = (units.select("*", F.explode(levels).alias("k")).where(F.col("k").isNotNull())
     .select("*", F.col("k.level").alias("level"), F.col("k.code").alias("code")).drop("k"))
# once_per_unit: the first row of a unit in zhenxing's order counts, once per area
first = Window.partitionBy("_i", "period", "category", "level", "code", "unit").orderBy(
    F.col("county").asc(), F.col("village").asc_nulls_last(), F.col("num").asc_nulls_first())
k = (k.withColumn("_n", F.when(F.col("opu"), F.row_number().over(first)).otherwise(F.lit(1)))
     .where(F.col("_n") == 1))

valid = F.col("num").isNotNull() & F.col("den").isNotNull()
g = k.groupBy("_i", "period", "category", "level", "code").agg(
    F.first("agg").alias("agg"), F.first("scale").alias("scale"), F.first("rank_order").alias("rank_order"),
    F.first("dataset").alias("dataset"),
    F.coalesce(F.sum(F.when(valid, F.col("num"))), F.lit(0.0)).alias("num_valid"),
    F.coalesce(F.sum(F.when(valid, F.col("den"))), F.lit(0.0)).alias("den_valid"),
    F.coalesce(F.sum("num"), F.lit(0.0)).alias("num_all"),
    F.count("num").cast("double").alias("n"),
    F.percentile(F.when(F.col("agg") == "median", F.col("num")), F.lit(0.5)).alias("median"),
    F.countDistinct(F.when(F.col("village").isNotNull() & F.col("reported"), F.col("village")))
    .alias("villages_reporting"),
    F.countDistinct("unit").alias("units"),
)
# a share's denominator is the whole distribution of the area
total = F.sum("den_valid").over(Window.partitionBy("_i", "period", "level", "code"))
agg, scale = F.col("agg"), F.col("scale")
g = g.withColumn("total", total)
g = g.select(
    "*",
    F.when(agg == "share", F.when(F.col("total") != 0, scale * F.col("num_valid") / F.col("total")))
    .when(agg == "ratio", F.when(F.col("den_valid") != 0, scale * F.col("num_valid") / F.col("den_valid")))
    .when(agg == "sum", scale * F.col("num_all"))
    .when(agg == "mean", F.when(F.col("n") > 0, scale * F.col("num_all") / F.col("n")))
    .otherwise(scale * F.col("median")).alias("value"),
    F.when(agg.isin("share", "ratio"), F.col("num_valid")).when(agg.isin("sum", "mean"), F.col("num_all"))
    .alias("numerator"),
    F.when(agg == "share", F.col("total")).when(agg == "ratio", F.col("den_valid"))
    .when(agg.isin("mean", "median"), F.col("n")).alias("denominator"),
).localCheckpoint(eager=True)
say("sums per area")

# ---- names and the registry as of each period: today's villages plus
# those merged after the period ended
period_end = F.expr("""CASE
  WHEN period RLIKE '^[0-9]{4}$' THEN make_date(int(period), 12, 31)
  WHEN period RLIKE '^[0-9]{4}-[0-9]{1,2}$' THEN last_day(make_date(int(substr(period, 1, 4)), int(substr(period, 6)), 1))
  WHEN period RLIKE '^[0-9]{4}-Q[1-4]$' THEN last_day(make_date(int(substr(period, 1, 4)), int(substr(period, 7, 1)) * 3, 1))
END""")
periods = g.select("period").distinct().withColumn("end", period_end)
later = periods.join(merged, F.col("merged_on") > F.col("end"))
later = (later.groupBy("period", F.lit(0).alias("level"), F.lit(CITY_CODE).alias("code")).agg(F.count(F.lit(1)).alias("later"))
         .unionByName(later.groupBy("period", F.lit(1).alias("level"), c6.alias("code")).agg(F.count(F.lit(1)).alias("later")))
         .unionByName(later.groupBy("period", F.lit(2).alias("level"), c9.alias("code")).agg(F.count(F.lit(1)).alias("later"))))
g = g.join(F.broadcast(areas), ["level", "code"], "left").join(later, ["period", "level", "code"], "left")
lvl = F.col("level")
g = g.select(
    "*",
    F.when(lvl == 0, F.lit(META["city"])).otherwise(F.coalesce("name", F.lit(""))).alias("geo_name"),
    F.when(lvl == 3, F.lit(1))
    .otherwise(F.when(lvl == 0, F.lit(villages_total)).otherwise(F.coalesce("area_n", F.lit(0)))
               + F.coalesce("later", F.lit(0))).cast("long").alias("villages_registry"),
)

# ---- the period that stood for a year of a monthly dataset: per area the
# last reported period of its county, for the city every county's
is_year = F.col("period").rlike("^[0-9]{4}$")
if year_ends is not None:
    year_ends = year_ends.localCheckpoint(eager=True)
    area_end = year_ends.select(F.col("dataset").alias("_d"), F.col("county").alias("_c"), F.col("year").alias("_y"),
                                F.col("last").alias("_area_last"))
    city_end = (year_ends.groupBy(F.col("dataset").alias("_d2"), F.col("year").alias("_y2"))
                .agg(F.array_join(F.array_sort(F.collect_set("last")), ",").alias("_city_last")))
    g = (g.join(F.broadcast(area_end), (F.col("dataset") == F.col("_d")) & (F.substring("code", 1, 6) == F.col("_c"))
                & (F.col("period") == F.col("_y")) & (lvl > 0), "left")
         .join(F.broadcast(city_end), (F.col("dataset") == F.col("_d2")) & (F.col("period") == F.col("_y2"))
               & (lvl == 0), "left"))
    used = (F.when(~is_year, F.col("period"))
            .when(lvl == 0, F.coalesce("_city_last", F.col("period")))
            .otherwise(F.coalesce("_area_last", F.col("period"))))
else:
    used = F.col("period")
g = g.withColumn("period_used", used)

# ---- ranks: villages with a value, within their county (1 is the best;
# ties share the better rank); an unranked village row says why
ranked = F.col("rank_order").isNotNull() & (lvl == 3) & F.col("value").isNotNull()
score = F.when(F.col("rank_order") == "desc", -F.col("value")).otherwise(F.col("value"))
w = Window.partitionBy("_i", "period", "category", F.substring("code", 1, 6), ranked).orderBy(score)
g = g.withColumn("rank", F.when(ranked, F.rank().over(w)).cast("long"))
g = g.withColumn("note", F.when(
    F.col("rank_order").isNotNull() & (lvl == 3) & F.col("rank").isNull(),
    F.when(F.col("villages_reporting") == 0, F.lit(META["notes"]["not_reported"]))
    .otherwise(F.lit(META["notes"]["no_score"]))))

# ---- the indicator's names beside each row, in zhenxing's order
names = spark.createDataFrame(
    [(i, ind["id"], ind["family"], ind["name_zh"], ind["name_en"], ind["unit"], ind["hash"])
     for i, ind in enumerate(META["indicators"])],
    "_i int, indicator_id string, family string, name_zh string, name_en string, unit string, "
    "definition_hash string")
g = g.join(F.broadcast(names), "_i")
LEVELS = F.array(*[F.lit(x) for x in ["city", "county", "township", "village"]])
result = g.select(
    "_i", F.col("level").alias("_level"),
    "indicator_id", "family", "name_zh", "name_en", "category", "period", "period_used",
    F.element_at(LEVELS, lvl + 1).alias("level"),
    F.col("code").alias("geo_code"), "geo_name", "value", "numerator", "denominator", "unit",
    F.col("villages_reporting").cast("long").alias("villages_reporting"), "villages_registry",
    F.col("units").cast("long").alias("units"), "rank", "note",
    F.lit(run_id).cast("string").alias("run_id"), "definition_hash",
).orderBy("_i", "period", F.col("category").asc_nulls_first(), "_level", "geo_code").drop("_i", "_level")
result = result.localCheckpoint(eager=True)
result.coalesce(1).write.mode("overwrite").parquet(args.out)
say(f"indicators of lake version {run_id}: {result.count()} rows written to {args.out}")
