"""Shared plumbing of the pothole Spark jobs: arguments, configuration, storage paths, input checks.

One source (spark/common.py); `pothole deploy-code` copies it into each stage folder in S3, because the
two stages are downloaded and submitted independently (`--py-files <dir>/stageN/common.py`).
Nothing here touches Spark until `create_session` is called, so bad arguments fail in milliseconds.
"""

import argparse
import datetime as dt
import json
import os
import re
import sys

# Exit status of a job that stopped on a business error (missing input, bad config or arguments).
# Any other failure surfaces as Python's usual status 1.
EXIT_JOB_ERROR = 2

DEFAULT_PREFIXES = {
    "raw": "raw-sensor-data",
    "stage1": "stage1_anomaly_detected",
    "stage2": "stage2_spatial_clustering",
}


class JobError(Exception):
    """A failure the operator can fix: the message says what is wrong and what to do."""


def log(message):
    print(f"[pothole] {message}", file=sys.stderr, flush=True)


# ---- arguments -----------------------------------------------------------------------------------------


def batch_date(value):
    """A real calendar date written YYYY-MM-DD (fromisoformat alone also accepts 20260212 and the like)."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value or ""):
        raise argparse.ArgumentTypeError(f"batch date {value!r} is not written YYYY-MM-DD")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"batch date {value!r} is not a real calendar date") from None
    return value


def env_name(value):
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value or ""):
        raise argparse.ArgumentTypeError(
            f"--env {value!r} must be a config suffix such as stage1 (letters, digits, _ . -)"
        )
    return value


def parse_args(description, argv=None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--env", required=True, type=env_name, help="config file suffix: reads config_<env>.json next to main.py"
    )
    parser.add_argument("--batch-date", required=True, type=batch_date, help="the date to process, YYYY-MM-DD")
    # argparse exits with status 2 and a usage line on bad arguments, the same status as a JobError.
    return parser.parse_args(argv)


# ---- configuration -------------------------------------------------------------------------------------


def load_config(job_dir, env):
    path = os.path.join(job_dir, f"config_{env}.json")
    if not os.path.isfile(path):
        present = sorted(f for f in os.listdir(job_dir) if re.fullmatch(r"config_.+\.json", f))
        raise JobError(
            f"config file {path} not found (--env {env}); files present: {', '.join(present) or 'none'}. "
            "Deploy the stage folder with its config or pass the matching --env."
        )
    try:
        with open(path, encoding="utf-8") as fh:
            config = json.load(fh)
    except json.JSONDecodeError as err:
        raise JobError(f"config file {path} is not valid JSON: {err}") from None
    if not isinstance(config, dict):
        raise JobError(f"config file {path} must hold a JSON object")
    return config


def require_number(config, key, source, minimum=None, integer=False):
    value = config.get(key)
    valid = isinstance(value, (int, float)) and not isinstance(value, bool)
    if valid and integer:
        valid = float(value).is_integer()
    if valid and minimum is not None:
        valid = value >= minimum
    if not valid:
        kind = "an integer" if integer else "a number"
        bound = f" >= {minimum}" if minimum is not None else ""
        raise JobError(f"{source}: {key} must be {kind}{bound}, got {value!r}")
    return int(value) if integer else float(value)


# ---- storage -------------------------------------------------------------------------------------------


class Storage:
    """Where the job reads and writes, from the spark.pothole.* confs set by spark-submit.

    spark.pothole.base_uri (optional, default s3a://<bucket>) points the same job at another file
    system, e.g. file:///tmp/pothole for a local run without S3.
    """

    def __init__(self, conf):
        bucket = (conf.get("spark.pothole.bucket", "") or "").strip()
        base_uri = (conf.get("spark.pothole.base_uri", "") or "").strip().rstrip("/")
        if not bucket and not base_uri:
            raise JobError(
                "spark.pothole.bucket is not set: pass --conf spark.pothole.bucket=<S3 bucket> to spark-submit"
            )
        self.bucket = bucket
        self.base_uri = base_uri or f"s3a://{bucket}"
        self.prefixes = {
            name: (conf.get(f"spark.pothole.prefix.{name}", default) or default).strip("/")
            for name, default in DEFAULT_PREFIXES.items()
        }

    def partition(self, name, date):
        return f"{self.base_uri}/{self.prefixes[name]}/dt={date}"

    def expand(self, template):
        """Fills {bucket} and {base_uri} in a path template from the config file."""
        try:
            return template.format(bucket=self.bucket, base_uri=self.base_uri)
        except (KeyError, IndexError, ValueError) as err:
            raise JobError(
                f"path template {template!r} has an unknown placeholder ({err}); use {{bucket}} or {{base_uri}}"
            ) from None


def create_session(app_name):
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    # spark-submit --name wins; the fallback names a run started some other way.
    if not SparkConf().contains("spark.app.name"):
        builder = builder.appName(app_name)
    # Snappy is Spark's default too; set it so a cluster-wide default cannot change the contract.
    builder = builder.config("spark.sql.parquet.compression.codec", "snappy")
    spark = builder.getOrCreate()
    # Driver output is streamed into the pipeline's logs: keep the job's own lines visible among Spark's.
    spark.sparkContext.setLogLevel(spark.conf.get("spark.pothole.log_level", "WARN") or "WARN")
    return spark


def _hadoop_fs(spark, path):
    jvm = spark.sparkContext._jvm
    jpath = jvm.org.apache.hadoop.fs.Path(path)
    return jpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), jpath


def require_parquet_input(spark, path, what, remedy):
    """Fails with a JobError unless `path` is a folder holding at least one non-empty parquet file."""
    fs, jpath = _hadoop_fs(spark, path)
    if not fs.exists(jpath):
        raise JobError(f"{what} not found: {path}/ does not exist. {remedy}")
    files = [
        status
        for status in fs.listStatus(jpath)
        if status.isFile() and status.getPath().getName().endswith(".parquet") and status.getLen() > 0
    ]
    if not files:
        raise JobError(f"{what} not found: {path}/ holds no non-empty .parquet file. {remedy}")
    return len(files)


def require_file(spark, path, what, remedy):
    fs, jpath = _hadoop_fs(spark, path)
    if not fs.exists(jpath) or not fs.getFileStatus(jpath).isFile():
        raise JobError(f"{what} not found: {path} does not exist. {remedy}")


def require_columns(df, required, source):
    """Checks presence and that each column can be read as the wanted type; returns the casted columns."""
    from pyspark.sql import functions as F

    present = {f.name: f.dataType for f in df.schema.fields}
    missing = [name for name in required if name not in present]
    if missing:
        raise JobError(
            f"{source} lacks column(s) {', '.join(missing)}; it has {', '.join(sorted(present)) or 'none'}"
        )
    numeric = ("ByteType", "ShortType", "IntegerType", "LongType", "FloatType", "DoubleType", "DecimalType")
    columns = []
    for name, wanted in required.items():
        have = type(present[name]).__name__
        # An id written as a number is still an id; a number written as text is a producer bug.
        ok = have in numeric or (wanted == "string" and have == "StringType")
        if not ok:
            raise JobError(f"{source}: column {name} is {present[name].simpleString()}, expected {wanted}")
        columns.append(F.col(name).cast(wanted).alias(name))
    return columns


def run_job(main, description, job_file, parse_config):
    """Parses arguments and the config next to `job_file` (before any JVM starts), runs `main`,
    and maps a JobError to a clear message and exit status 2."""
    args = parse_args(description)
    job_dir = os.path.dirname(os.path.abspath(job_file))
    spark = None
    try:
        settings = parse_config(load_config(job_dir, args.env), f"config_{args.env}.json")
        spark = create_session(f"pothole-{args.env}-{args.batch_date}")
        main(spark, Storage(spark.conf), settings, args)
    except JobError as err:
        log(f"ERROR: {err}")
        if spark is not None:
            spark.stop()
        sys.exit(EXIT_JOB_ERROR)
    spark.stop()
