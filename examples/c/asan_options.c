/* Built into chat-server-asan only: ASan's default options for this
 * server (ASAN_OPTIONS still overrides them).
 *
 * The quarantine keeps freed memory unusable for a while, to catch uses
 * after free. Its default, 256 MiB, holds a quarter gigabyte of a busy
 * server's ordinary churn (request buffers, JSON, frames), which the
 * end-to-end suite's memory bounds (a slow reader must not grow the
 * server) would read as growth; 16 MiB still spans thousands of requests. */
const char *__asan_default_options(void);

const char *__asan_default_options(void) { return "quarantine_size_mb=16"; }
