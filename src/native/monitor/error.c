#include "error.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int tspod_make_error(tspod_error_t *err, int errno_, const char *fmt, ...)
{
  char *msg = NULL;
  va_list ap;

  tspod_error_release(err);
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);

  if (msg != NULL && errno_ != 0) {
    char *full = NULL;
    if (asprintf(&full, "%s: %s", msg, strerror(errno_)) >= 0) {
      free(msg);
      msg = full;
    }
  }

  *err = calloc(1, sizeof(**err));
  if (*err == NULL) {
    free(msg);
    return -1;
  }
  (*err)->errno_ = errno_;
  (*err)->msg = msg;
  return -1;
}

void tspod_error_release(tspod_error_t *err)
{
  if (err == NULL || *err == NULL) return;
  free((*err)->msg);
  free(*err);
  *err = NULL;
}
