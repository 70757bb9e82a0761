"""Stage2 spatial clustering.

Maps every Stage1 reading to the nearest road-segment centroid and counts, per segment, how many readings
passed over it (total_count) and how many of them were pothole impacts (impact_count).

    spark-submit ... --py-files common.py main.py --env stage2 --batch-date 2026-02-12

Input:  <base>/<spark.pothole.prefix.stage1>/dt=<date>/*.parquet and the road network CSV
        (s_id, start_lon, start_lat, end_lon, end_lat) named by road_network_path in the config.
Output: <base>/<spark.pothole.prefix.stage2>/dt=<date>/ (s_id string, date date, impact_count int,
        total_count int, centroid_lon double, centroid_lat double), snappy parquet, overwritten.

Nearest-centroid search without a cross join: centroids are bucketed into a grid whose cells are at least
max_match_distance_m wide, each centroid is replicated into its 3x3 neighbourhood of cells, and that small
table is broadcast. A reading then meets, by an equi-join on its own cell, every centroid that can be
within the cutoff; the closest one wins (ties go to the smaller s_id, so reruns are identical).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (  # noqa: E402
    JobError,
    log,
    require_columns,
    require_file,
    require_number,
    require_parquet_input,
    run_job,
)

EARTH_RADIUS_M = 6_371_008.8
METERS_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_M / 180
ROAD_NETWORK_COLUMNS = ("s_id", "start_lon", "start_lat", "end_lon", "end_lat")


def parse_config(config, source):
    path = config.get("road_network_path")
    if not isinstance(path, str) or not path.strip():
        raise JobError(
            f"{source}: road_network_path must be a path template such as {{base_uri}}/reference/road_network.csv"
        )
    include_empty = config.get("include_empty_segments", False)
    if not isinstance(include_empty, bool):
        raise JobError(f"{source}: include_empty_segments must be true or false, got {include_empty!r}")
    return {
        "road_network_path": path.strip(),
        "max_match_distance_m": require_number(config, "max_match_distance_m", source, minimum=1),
        "include_empty_segments": include_empty,
    }


def load_road_network(spark, path):
    """Reads and validates the road network; returns (centroids DataFrame, segment count, max |lat|)."""
    from pyspark.sql import functions as F

    # Everything read as text first, so a malformed coordinate is reported instead of silently becoming null.
    text = spark.read.option("header", True).option("inferSchema", False).csv(path)
    present = [c.strip() for c in text.columns]
    missing = [c for c in ROAD_NETWORK_COLUMNS if c not in present]
    if missing:
        raise JobError(
            f"road network {path} lacks column(s) {', '.join(missing)}; "
            f"its header is {', '.join(present) or 'empty'}"
        )
    text = text.toDF(*present)
    coords = ROAD_NETWORK_COLUMNS[1:]
    network = text.select(
        F.trim("s_id").alias("s_id"),
        # try_cast: with ANSI mode (Spark 4's default) a plain cast of "north" fails the whole job unexplained.
        *[F.expr(f"try_cast(`{c}` AS DOUBLE)").alias(c) for c in coords],
        *[F.col(c).alias(f"{c}__text") for c in coords],
    )
    bad_rule = F.col("s_id").isNull() | (F.col("s_id") == "")
    for c in coords:
        bad_rule = bad_rule | F.col(c).isNull() | F.isnan(c)
    bad_rule = bad_rule | (F.abs("start_lat") > 90) | (F.abs("end_lat") > 90)
    bad_rule = bad_rule | (F.abs("start_lon") > 180) | (F.abs("end_lon") > 180)
    centroids = network.select(
        "s_id",
        ((F.col("start_lon") + F.col("end_lon")) / 2).alias("centroid_lon"),
        ((F.col("start_lat") + F.col("end_lat")) / 2).alias("centroid_lat"),
        bad_rule.alias("bad"),
    ).cache()
    # One pass for every check; the examples are only looked up when something is wrong.
    summary = centroids.agg(
        F.count(F.lit(1)).alias("n"),
        F.count_distinct("s_id").alias("distinct"),
        F.sum(F.col("bad").cast("int")).alias("bad"),
        F.max(F.abs("centroid_lat")).alias("max_lat"),
    ).first()
    if not summary["n"]:
        raise JobError(f"road network {path} has no segments")
    if summary["bad"]:
        rows = network.filter(bad_rule).limit(3).collect()
        shown = "; ".join(
            f"s_id={row['s_id']!r} " + " ".join(f"{c}={row[c + '__text']!r}" for c in coords) for row in rows
        )
        raise JobError(
            f"road network {path} has {summary['bad']} row(s) without an s_id or with invalid coordinates, "
            f"e.g. {shown}"
        )
    if summary["distinct"] < summary["n"]:
        rows = network.groupBy("s_id").count().filter("count > 1").limit(3).collect()
        raise JobError(
            f"road network {path} repeats s_id(s) {', '.join(row['s_id'] for row in rows)}: "
            "each segment must appear once"
        )
    centroids = centroids.drop("bad")
    return centroids, summary["n"], summary["max_lat"]


def grid_cell_size(max_distance_m, max_abs_lat):
    """Cell width/height in degrees such that anything within max_distance_m is at most one cell away."""
    # Longitude degrees shrink towards the poles: size them at the highest latitude in play (plus a margin).
    lat = min(max_abs_lat + 1.0, 89.0)
    cell_lat = max_distance_m / METERS_PER_DEGREE_LAT
    cell_lon = max_distance_m / (METERS_PER_DEGREE_LAT * math.cos(math.radians(lat)))
    return cell_lon, cell_lat


def distance_m(lon1, lat1, lon2, lat2):
    """Haversine distance in metres between Column expressions."""
    from pyspark.sql import functions as F

    dlat = F.radians(lat2 - lat1)
    dlon = F.radians(lon2 - lon1)
    a = F.pow(F.sin(dlat / 2), 2) + F.cos(F.radians(lat1)) * F.cos(F.radians(lat2)) * F.pow(F.sin(dlon / 2), 2)
    return F.lit(2 * EARTH_RADIUS_M) * F.asin(F.sqrt(F.least(F.lit(1.0), a)))


def cluster(points, centroids, batch_date, settings, max_abs_lat):
    """The Stage2 transformation, free of I/O: scored readings + centroids in, per-segment counts out."""
    from pyspark.sql import functions as F

    max_distance = settings["max_match_distance_m"]
    cell_lon, cell_lat = grid_cell_size(max_distance, max_abs_lat)

    def cell(lon, lat):
        return F.floor(lon / cell_lon).cast("long"), F.floor(lat / cell_lat).cast("long")

    cx, cy = cell(F.col("centroid_lon"), F.col("centroid_lat"))
    offsets = F.array(*[F.lit(d) for d in (-1, 0, 1)])
    candidates = (
        centroids.withColumn("dx", F.explode(offsets))
        .withColumn("dy", F.explode(offsets))
        .select(
            "s_id",
            "centroid_lon",
            "centroid_lat",
            (cx + F.col("dx")).alias("cell_x"),
            (cy + F.col("dy")).alias("cell_y"),
        )
    )

    px, py = cell(F.col("lon"), F.col("lat"))
    located = points.filter(F.col("lon").isNotNull() & F.col("lat").isNotNull()).select(
        F.monotonically_increasing_id().alias("point_id"),
        "lon",
        "lat",
        F.coalesce(F.col("is_pothole"), F.lit(0)).alias("is_pothole"),
        px.alias("cell_x"),
        py.alias("cell_y"),
    )
    pairs = located.join(F.broadcast(candidates), ["cell_x", "cell_y"]).withColumn(
        "distance_m", distance_m(F.col("lon"), F.col("lat"), F.col("centroid_lon"), F.col("centroid_lat"))
    )
    nearest = (
        pairs.filter(F.col("distance_m") <= max_distance)
        .groupBy("point_id", "is_pothole")
        .agg(F.min(F.struct("distance_m", "s_id")).alias("nearest"))
        .select(F.col("nearest.s_id").alias("s_id"), "is_pothole")
    )
    counts = nearest.groupBy("s_id").agg(
        F.sum("is_pothole").cast("int").alias("impact_count"),
        F.count(F.lit(1)).cast("int").alias("total_count"),
    )
    how = "left" if settings["include_empty_segments"] else "inner"
    joined = centroids.join(counts, "s_id", how)
    return joined.select(
        F.col("s_id").cast("string").alias("s_id"),
        F.to_date(F.lit(batch_date)).alias("date"),
        F.coalesce(F.col("impact_count"), F.lit(0)).cast("int").alias("impact_count"),
        F.coalesce(F.col("total_count"), F.lit(0)).cast("int").alias("total_count"),
        F.col("centroid_lon").cast("double").alias("centroid_lon"),
        F.col("centroid_lat").cast("double").alias("centroid_lat"),
    )


def main(spark, storage, settings, args):
    from pyspark.sql import functions as F

    source = storage.partition("stage1", args.batch_date)
    target = storage.partition("stage2", args.batch_date)
    road_network_path = storage.expand(settings["road_network_path"])
    files = require_parquet_input(
        spark,
        source,
        f"Stage1 output for {args.batch_date}",
        "Run Stage1 for that date first (or check spark.pothole.prefix.stage1).",
    )
    require_file(
        spark,
        road_network_path,
        "road network",
        "Upload the road network CSV (s_id,start_lon,start_lat,end_lon,end_lat) there, or fix road_network_path "
        f"in config_{args.env}.json.",
    )
    log(f"stage2 {args.batch_date}: reading {files} parquet file(s) from {source}/ and {road_network_path}")
    centroids, segments, max_abs_lat = load_road_network(spark, road_network_path)

    stage1 = spark.read.parquet(source)
    wanted = {"lon": "double", "lat": "double", "is_pothole": "int"}
    points = stage1.select(*require_columns(stage1, wanted, "Stage1 output"))
    clustered = cluster(points, centroids, args.batch_date, settings, max_abs_lat)
    clustered.write.mode("overwrite").option("compression", "snappy").parquet(target)

    written = spark.read.parquet(target)
    summary = written.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum("total_count").alias("matched"),
        F.sum("impact_count").alias("impacts"),
    ).first()
    total = stage1.count()
    matched = summary["matched"] or 0
    log(
        f"stage2 {args.batch_date}: {matched} of {total} readings matched a segment centroid within "
        f"{settings['max_match_distance_m']:g} m ({total - matched} off the {segments}-segment network); "
        f"{summary['rows']} segment rows, {summary['impacts'] or 0} impacts -> {target}/"
    )


if __name__ == "__main__":
    run_job(
        main, "Pothole Stage2: spatial clustering of Stage1 readings onto road segments", __file__, parse_config
    )
