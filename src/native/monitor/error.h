/* Error values for tspod-monitor, in the style of crun's libcrun_error_t: a function that fails
 * fills *err and returns -1; callers propagate `ret < 0` without adding noise. */
#ifndef TSPOD_MONITOR_ERROR_H
#define TSPOD_MONITOR_ERROR_H
#include "util.h"

struct tspod_error_s {
  int errno_; /* errno at the failure, 0 if none */
  char *msg;  /* "what failed: strerror(errno_)" */
};
typedef struct tspod_error_s *tspod_error_t;

/* Fills *err (replacing an earlier error) and returns -1.
 * errno_ != 0 appends ": <strerror(errno_)>" to the message. */
int tspod_make_error(tspod_error_t *err, int errno_, const char *fmt, ...) TSPOD_PRINTF(3, 4);
void tspod_error_release(tspod_error_t *err);

#define cleanup_error __attribute__((cleanup(tspod_error_release)))
#endif
