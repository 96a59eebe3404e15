#include "launcher.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

bool launcher_debug_enabled;
static struct timespec debug_t0;

int launcher_make_error(launcher_error_t *err, int status, const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;

  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);
  *err = calloc(1, sizeof(**err));
  if (*err == NULL) {
    fputs("Error: out of memory\n", stderr);
    exit(LAUNCHER_EXIT_FAILURE);
  }
  (*err)->status = status;
  (*err)->msg = msg;
  return -1;
}

void launcher_error_exit(launcher_error_t *err)
{
  const char *msg = (*err && (*err)->msg) ? (*err)->msg : "internal error";

  if (*err && (*err)->status) {
    /* Lower-case the first letter, as Go's syscall errors read in Podman's messages. */
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", strerror((*err)->status));
    buf[0] = (char) tolower((unsigned char) buf[0]);
    fprintf(stderr, "Error: %s: %s\n", msg, buf);
  } else
    fprintf(stderr, "Error: %s\n", msg);
  exit(LAUNCHER_EXIT_FAILURE);
}

void launcher_debug(const char *fmt, ...)
{
  struct timespec now;
  va_list ap;
  char line[1024];

  if (!launcher_debug_enabled) return;
  if (debug_t0.tv_sec == 0 && debug_t0.tv_nsec == 0) clock_gettime(CLOCK_MONOTONIC, &debug_t0);
  clock_gettime(CLOCK_MONOTONIC, &now);
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  fprintf(stderr, "tspod-launcher: [%.3f ms] %s\n",
          (double) (now.tv_sec - debug_t0.tv_sec) * 1e3 + (double) (now.tv_nsec - debug_t0.tv_nsec) / 1e6, line);
}
