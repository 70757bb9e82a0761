/**
 * Spark settings for the tests' short-lived drivers and executors on a small machine (a test may set its own):
 * their JVMs compile with the quick compiler only, and the drivers serve no web UI (no test reads it). A reference
 * stage on the demo data then takes about two thirds of the time; what the jobs compute is the same.
 */
export const QUICK_SPARK_CONFS: Readonly<Record<string, string>> = {
  'spark.driver.extraJavaOptions': '-XX:TieredStopAtLevel=1',
  'spark.executor.extraJavaOptions': '-XX:TieredStopAtLevel=1',
  'spark.ui.enabled': 'false',
};

/** The same settings as a SPARK_EXTRA_CONF value, after the entries of `extra` (a SPARK_EXTRA_CONF too). */
export const withQuickSparkConfs = (extra?: string): string =>
  [extra, ...Object.entries(QUICK_SPARK_CONFS).map(([k, v]) => `${k}=${v}`)].filter(Boolean).join(',');
