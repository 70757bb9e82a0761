/** The workflows the worker registers. */
export { potholePipeline } from './pipeline';
export { potholeBackfill } from './backfill';
export { clusterLock } from './cluster-lock';
export { potholeWatchdog } from './watchdog';
