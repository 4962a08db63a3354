/**
 * Preloaded (`node --import`) into the processes tests start (transcoder, wrangler dev): if the
 * test runner dies without its teardown (killed, crashed), the child is re-parented and ends
 * itself instead of lingering. SIGTERM, so it still stops its own children (ffmpeg, workerd).
 */
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, "SIGTERM");
}, 1000).unref();

export {};
