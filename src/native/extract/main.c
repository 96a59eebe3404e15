/* tspod-extract [--rootless] [--max-size BYTES] [--xattr-prefix user|trusted] DEST
 *
 * Reads a layer blob (gzip, zstd or plain tar) on stdin and extracts it into DEST, an existing empty
 * directory. Prints one JSON line on stdout (keep in sync with src/storage's reader):
 *   success (exit 0): {"diffId":"sha256:<hex>","size":N,"entries":N,"skippedDevices":N,"skippedXattrs":N}
 *   failure (exit 1): {"error":"<message>","entry":"<entry name or empty>"}
 * stderr is free for debugging. */
#include "extract.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

static char current_entry[EXTRACT_NAME_MAX + 1];

static void set_entry(const char *name)
{
  size_t n = name ? strnlen(name, EXTRACT_NAME_MAX) : 0;
  memcpy(current_entry, name ? name : "", n);
  current_entry[n] = '\0';
}

__attribute__((noreturn)) static void fail(const struct xerror *err)
{
  fputs("{\"error\":", stdout);
  json_write_string(stdout, err->set ? err->msg : "unknown error");
  fputs(",\"entry\":", stdout);
  json_write_string(stdout, current_entry);
  fputs("}\n", stdout);
  fflush(stdout);
  /* the reader thread may be blocked on stdin: leave without waiting for it */
  _exit(1);
}

static int parse_size(const char *s, uint64_t *out)
{
  char *end;
  unsigned long long v;

  if (s == NULL || *s < '0' || *s > '9')
    return -1;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0')
    return -1;
  *out = v;
  return 0;
}

static int check_empty(int fd, struct xerror *err)
{
  int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  DIR *d;
  struct dirent *de;

  if (dfd < 0)
    return xerror_make(err, errno, "dup");
  d = fdopendir(dfd);
  if (d == NULL) {
    close(dfd);
    return xerror_make(err, errno, "read destination");
  }
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
      closedir(d);
      return xerror_make(err, 0, "destination is not empty");
    }
  }
  closedir(d);
  return 0;
}

int main(int argc, char **argv)
{
  struct extract_opts opts = { .max_size = EXTRACT_DEFAULT_MAX_SIZE };
  struct xerror err = { 0 };
  const char *dest = NULL;
  struct stream *s = NULL;
  struct tar_reader *r = NULL;
  struct extractor *x = NULL;
  const struct extract_stats *st;
  char hex[65];
  uint64_t total;
  int i, rootfd;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--rootless") == 0) {
      opts.rootless = true;
    } else if (strcmp(argv[i], "--max-size") == 0) {
      if (parse_size(i + 1 < argc ? argv[++i] : NULL, &opts.max_size) < 0) {
        xerror_make(&err, 0, "--max-size needs a number of bytes");
        fail(&err);
      }
    } else if (strcmp(argv[i], "--xattr-prefix") == 0) {
      opts.xattr_prefix = i + 1 < argc ? argv[++i] : "";
      if (strcmp(opts.xattr_prefix, "user") != 0 && strcmp(opts.xattr_prefix, "trusted") != 0) {
        xerror_make(&err, 0, "--xattr-prefix must be user or trusted");
        fail(&err);
      }
    } else if (strcmp(argv[i], "--") == 0 && i + 2 == argc) {
      dest = argv[++i];
    } else if (argv[i][0] != '-' && dest == NULL) {
      dest = argv[i];
    } else {
      xerror_make(&err, 0, "usage: tspod-extract [--rootless] [--max-size BYTES] [--xattr-prefix user|trusted] DEST");
      fail(&err);
    }
  }
  if (dest == NULL) {
    xerror_make(&err, 0, "usage: tspod-extract [--rootless] [--max-size BYTES] [--xattr-prefix user|trusted] DEST");
    fail(&err);
  }
  if (opts.xattr_prefix == NULL)
    opts.xattr_prefix = opts.rootless ? "user" : "trusted";

  umask(0);
  rootfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) {
    xerror_make(&err, errno, "open destination %s", dest);
    fail(&err);
  }
  if (check_empty(rootfd, &err) < 0 || stream_open(&s, STDIN_FILENO, opts.max_size, &err) < 0
      || tar_reader_new(&r, s, opts.max_size, &err) < 0 || extractor_new(&x, rootfd, &opts, &err) < 0)
    fail(&err);

  for (;;) {
    struct tar_entry e;
    const char *name = NULL;
    int ret = tar_next(r, &e, &name, &err);

    set_entry(name);
    if (ret < 0)
      fail(&err);
    if (ret == 0)
      break;
    if (extractor_add(x, &e, s, &err) < 0 || tar_end_entry(r, &e, &err) < 0)
      fail(&err);
  }
  set_entry(NULL);
  /* hash the whole stream, trailing blocks included, so the writer never blocks */
  if (stream_finish(s, hex, &total, &err) < 0 || extractor_finish(x, &err) < 0)
    fail(&err);

  st = extractor_stats(x);
  printf("{\"diffId\":\"sha256:%s\",\"size\":%llu,\"entries\":%llu,\"skippedDevices\":%llu,\"skippedXattrs\":%llu}\n",
         hex, (unsigned long long) total, (unsigned long long) st->entries, (unsigned long long) st->skipped_devices,
         (unsigned long long) st->skipped_xattrs);
  fflush(stdout);
  extractor_free(x);
  tar_reader_free(r);
  stream_free(s);
  close(rootfd);
  return 0;
}
