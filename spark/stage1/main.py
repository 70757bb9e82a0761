"""Stage1 anomaly detection.

Reads one day of raw sensor readings, keeps those taken in a usable driving context (moving, good GPS fix),
scores each reading by how far its vertical acceleration and pitch rate stand out within its own trip, and
flags the ones above the impact threshold.

    spark-submit ... --py-files common.py main.py --env stage1 --batch-date 2026-02-12

Input:  <base>/<spark.pothole.prefix.raw>/dt=<date>/*.parquet
Output: <base>/<spark.pothole.prefix.stage1>/dt=<date>/ (timestamp long, lon double, lat double,
        impact_score double, is_pothole int), snappy parquet, overwritten.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import JobError, log, require_columns, require_number, require_parquet_input, run_job  # noqa: E402

# Columns Stage1 reads and the type it reads each as (the raw files may use narrower numeric types).
BASE_COLUMNS = {
    "timestamp": "long",
    "trip_id": "string",
    "lon": "double",
    "lat": "double",
    "velocity": "double",
    "hdop": "double",
    "satellites": "int",
}
SENSOR_COLUMNS = ("accel_x", "accel_y", "accel_z", "gyro_x", "gyro_y", "gyro_z")


def parse_config(config, source):
    filters = config.get("filters")
    if not isinstance(filters, dict):
        raise JobError(
            f"{source}: 'filters' must be an object with velocity_above, hdop_at_most and satellites_at_least"
        )
    weights = config.get("weights")
    if not isinstance(weights, dict) or not weights:
        raise JobError(f"{source}: 'weights' must map sensor columns to weights, e.g. {{\"accel_z\": 0.7}}")
    unknown = [name for name in weights if name not in SENSOR_COLUMNS]
    if unknown:
        raise JobError(
            f"{source}: weights name unknown column(s) {', '.join(unknown)}; use {', '.join(SENSOR_COLUMNS)}"
        )
    where = f"{source} filters"
    return {
        "velocity_above": require_number(filters, "velocity_above", where),
        "hdop_at_most": require_number(filters, "hdop_at_most", where),
        "satellites_at_least": require_number(filters, "satellites_at_least", where, minimum=0, integer=True),
        "weights": {name: require_number(weights, name, f"{source} weights") for name in weights},
        "impact_threshold": require_number(config, "impact_threshold", source),
    }


def detect(raw, settings):
    """The Stage1 transformation, free of I/O: raw readings in, scored readings out."""
    from pyspark.sql import functions as F

    weights = settings["weights"]
    columns = require_columns(raw, {**BASE_COLUMNS, **{name: "double" for name in weights}}, "raw sensor data")
    readings = raw.select(*columns)

    # Context filter: a parked car or a wandering GPS fix says nothing about the road surface.
    # Comparisons with null are not true, so readings missing any of these are dropped too.
    moving = readings.filter(
        (F.col("velocity") > settings["velocity_above"])
        & (F.col("hdop") <= settings["hdop_at_most"])
        & (F.col("satellites") >= settings["satellites_at_least"])
    )

    # Per-trip mean and sample standard deviation: each vehicle's mount and suspension set its own baseline.
    # Aggregating and joining back keeps the readings unshuffled (the per-trip table is small and broadcast).
    stats = moving.groupBy(F.col("trip_id").alias("stats_trip_id")).agg(
        *[F.avg(name).alias(f"{name}__mean") for name in weights],
        *[F.stddev_samp(name).alias(f"{name}__std") for name in weights],
    )
    # Null-safe, so readings without a trip id form one group instead of vanishing in the join.
    scored = moving.join(stats, F.col("trip_id").eqNullSafe(F.col("stats_trip_id")))

    def zscore(name):
        value, mean, std = F.col(name), F.col(f"{name}__mean"), F.col(f"{name}__std")
        # A flat signal (std 0) or a one-reading trip (std null) carries no evidence of an impact.
        return F.when(std.isNull() | (std == 0) | value.isNull(), F.lit(0.0)).otherwise((value - mean) / std)

    impact = sum((F.lit(weight) * zscore(name) for name, weight in weights.items()), F.lit(0.0))
    return scored.select(
        F.col("timestamp"),
        F.col("lon"),
        F.col("lat"),
        impact.cast("double").alias("impact_score"),
        F.when(impact >= settings["impact_threshold"], 1).otherwise(0).cast("int").alias("is_pothole"),
    )


def main(spark, storage, settings, args):
    from pyspark.sql import functions as F

    source = storage.partition("raw", args.batch_date)
    target = storage.partition("stage1", args.batch_date)
    files = require_parquet_input(
        spark,
        source,
        f"raw sensor data for {args.batch_date}",
        "Upload that day's readings (npx pothole demo-data DATE for the demo) or check spark.pothole.prefix.raw.",
    )
    log(f"stage1 {args.batch_date}: reading {files} parquet file(s) from {source}/")
    raw = spark.read.parquet(source)
    detect(raw, settings).write.mode("overwrite").option("compression", "snappy").parquet(target)

    written = spark.read.parquet(target)
    summary = written.agg(F.count(F.lit(1)).alias("rows"), F.sum("is_pothole").alias("potholes")).first()
    total = raw.count()
    log(
        f"stage1 {args.batch_date}: {total} readings, {summary['rows']} kept by the context filter, "
        f"{summary['potholes'] or 0} flagged as pothole impacts -> {target}/"
    )


if __name__ == "__main__":
    run_job(main, "Pothole Stage1: anomaly detection on raw sensor readings", __file__, parse_config)
