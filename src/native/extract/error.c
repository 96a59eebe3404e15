/* Error recording and JSON string output for tspod-extract. */
#include "extract.h"
#include <stdarg.h>
#include <string.h>

int xerror_make(struct xerror *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  int n;

  if (err->set)
    return -1;
  err->set = true;
  va_start(ap, fmt);
  n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  va_end(ap);
  if (n < 0)
    n = 0;
  if (errnum != 0 && (size_t) n < sizeof(err->msg))
    snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
  return -1;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
  size_t n, i;
  uint32_t cp;

  if (s[0] < 0x80)
    return 1;
  if ((s[0] & 0xe0) == 0xc0)
    n = 2, cp = s[0] & 0x1f;
  else if ((s[0] & 0xf0) == 0xe0)
    n = 3, cp = s[0] & 0x0f;
  else if ((s[0] & 0xf8) == 0xf0)
    n = 4, cp = s[0] & 0x07;
  else
    return 0;
  for (i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
      || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

void json_write_string(FILE *f, const char *str)
{
  const unsigned char *s = (const unsigned char *) str;

  fputc('"', f);
  while (*s) {
    size_t n;
    if (*s == '"' || *s == '\\') {
      fputc('\\', f);
      fputc(*s++, f);
      continue;
    }
    if (*s < 0x20 || *s == 0x7f) {
      fprintf(f, "\\u%04x", *s++);
      continue;
    }
    n = utf8_len(s);
    if (n == 0) {
      fputs("\\ufffd", f);
      s++;
      continue;
    }
    fwrite(s, 1, n, f);
    s += n;
  }
  fputc('"', f);
}
