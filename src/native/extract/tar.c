/* Tar header parsing: ustar/POSIX, GNU (long names and links, base-256 numbers) and PAX (per-entry
 * and global headers). Every header is checksummed; meta headers are capped at 1 MiB. */
#include "extract.h"
#include <errno.h>
#include <string.h>

struct tar_reader
{
  struct stream *s;
  uint64_t max_size;
  unsigned char hdr[512];
  char name[EXTRACT_NAME_MAX + 1];      /* ustar prefix + name */
  char linkname[101];
  char *longname, *longlink;            /* GNU 'L' and 'K' bodies */
  size_t longname_cap, longlink_cap;
  bool has_longname, has_longlink;
  char *pax;                            /* PAX 'x' body, records parsed in place */
  size_t pax_cap;
  struct xattr *xattrs;
  size_t n_xattrs, xattrs_cap;
  /* PAX overrides for the next entry */
  const char *pax_path, *pax_linkpath;
  bool pax_has_size, pax_has_uid, pax_has_gid, pax_has_mtime;
  uint64_t pax_size, pax_uid, pax_gid;
  struct timespec pax_mtime;
};

int tar_reader_new(struct tar_reader **out, struct stream *s, uint64_t max_size, struct xerror *err)
{
  struct tar_reader *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return xerror_make(err, ENOMEM, "allocate tar reader");
  r->s = s;
  r->max_size = max_size;
  *out = r;
  return 0;
}

void tar_reader_free(struct tar_reader *r)
{
  if (r == NULL)
    return;
  free(r->longname);
  free(r->longlink);
  free(r->pax);
  free(r->xattrs);
  free(r);
}

static void reset_pax(struct tar_reader *r)
{
  r->n_xattrs = 0;
  r->pax_path = r->pax_linkpath = NULL;
  r->pax_has_size = r->pax_has_uid = r->pax_has_gid = r->pax_has_mtime = false;
}

static void reset_meta(struct tar_reader *r)
{
  r->has_longname = r->has_longlink = false;
  reset_pax(r);
}

/* Numeric header field: octal (space/NUL padded) or GNU base-256 (high bit set). */
static int parse_numeric(const unsigned char *f, size_t n, int64_t *out, bool allow_negative)
{
  uint64_t v = 0;
  size_t i = 0, end = n;

  if (n > 0 && (f[0] & 0x80)) {
    bool neg = (f[0] & 0x40) != 0;
    unsigned char inv = neg ? 0xff : 0;
    if (neg && !allow_negative)
      return -1;
    for (i = 0; i < n; i++) {
      unsigned char c = f[i] ^ inv;
      if (i == 0)
        c &= 0x7f;
      if (v >> 55)
        return -1;
      v = (v << 8) | c;
    }
    if (v > INT64_MAX)
      return -1;
    *out = neg ? -(int64_t) v - 1 : (int64_t) v;
    return 0;
  }
  while (i < end && (f[i] == ' ' || f[i] == 0))
    i++;
  while (end > i && (f[end - 1] == ' ' || f[end - 1] == 0))
    end--;
  for (; i < end; i++) {
    if (f[i] < '0' || f[i] > '7')
      return -1;
    if (v >> 60)
      return -1;
    v = v * 8 + (uint64_t) (f[i] - '0');
  }
  *out = (int64_t) v;
  return 0;
}

static int field_u64(const unsigned char *f, size_t n, uint64_t *out)
{
  int64_t v;
  if (parse_numeric(f, n, &v, false) < 0 || v < 0)
    return -1;
  *out = (uint64_t) v;
  return 0;
}

static bool is_zero_block(const unsigned char *b)
{
  size_t i;
  for (i = 0; i < 512; i++)
    if (b[i])
      return false;
  return true;
}

static int verify_checksum(const unsigned char *h)
{
  uint64_t want;
  int64_t ssum = 0;
  uint64_t usum = 0;
  size_t i;

  if (field_u64(h + 148, 8, &want) < 0)
    return -1;
  for (i = 0; i < 512; i++) {
    unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
    usum += c;
    ssum += (signed char) c;
  }
  if (usum == want || (uint64_t) ssum == want)
    return 0;
  return -1;
}

/* Reads a meta header body of size bytes (plus padding) into *buf (NUL-terminated). */
static int read_body(struct tar_reader *r, uint64_t size, char **buf, size_t *cap, struct xerror *err)
{
  ssize_t n;

  if (size > EXTRACT_META_MAX)
    return xerror_make(err, 0, "tar meta header of %llu bytes exceeds the 1 MiB limit", (unsigned long long) size);
  if (*cap < size + 1) {
    char *p = realloc(*buf, size + 1);
    if (p == NULL)
      return xerror_make(err, ENOMEM, "allocate tar header");
    *buf = p;
    *cap = size + 1;
  }
  n = stream_read(r->s, *buf, size, err);
  if (n < 0)
    return -1;
  if ((uint64_t) n != size)
    return xerror_make(err, 0, "truncated tar archive");
  (*buf)[size] = '\0';
  return stream_skip(r->s, (512 - size % 512) % 512, err);
}

static int parse_decimal(const char *v, size_t len, uint64_t *out)
{
  uint64_t x = 0;
  size_t i;
  if (len == 0 || len > 20)
    return -1;
  for (i = 0; i < len; i++) {
    if (v[i] < '0' || v[i] > '9')
      return -1;
    if (x > (UINT64_MAX - 9) / 10)
      return -1;
    x = x * 10 + (uint64_t) (v[i] - '0');
  }
  *out = x;
  return 0;
}

/* PAX time: [-]seconds[.fraction] */
static int parse_pax_time(const char *v, size_t len, struct timespec *ts)
{
  bool neg = false;
  const char *dot;
  uint64_t sec;
  long nsec = 0;
  size_t i, ilen;

  if (len > 0 && v[0] == '-') {
    neg = true;
    v++;
    len--;
  }
  dot = memchr(v, '.', len);
  ilen = dot ? (size_t) (dot - v) : len;
  if (parse_decimal(v, ilen, &sec) < 0 || sec > INT64_MAX / 2)
    return -1;
  if (dot) {
    long scale = 100000000;
    for (i = ilen + 1; i < len; i++) {
      if (v[i] < '0' || v[i] > '9')
        return -1;
      nsec += (v[i] - '0') * scale;
      scale /= 10;
    }
  }
  if (neg) {
    ts->tv_sec = -(time_t) sec;
    if (nsec) {
      ts->tv_sec--;
      nsec = 1000000000 - nsec;
    }
  } else {
    ts->tv_sec = (time_t) sec;
  }
  ts->tv_nsec = nsec;
  return 0;
}

static int add_xattr(struct tar_reader *r, const char *name, const char *value, size_t len, struct xerror *err)
{
  if (r->n_xattrs == r->xattrs_cap) {
    size_t cap = r->xattrs_cap ? r->xattrs_cap * 2 : 8;
    struct xattr *p = realloc(r->xattrs, cap * sizeof(*p));
    if (p == NULL)
      return xerror_make(err, ENOMEM, "allocate xattrs");
    r->xattrs = p;
    r->xattrs_cap = cap;
  }
  r->xattrs[r->n_xattrs].name = name;
  r->xattrs[r->n_xattrs].value = value;
  r->xattrs[r->n_xattrs].len = len;
  r->n_xattrs++;
  return 0;
}

/* Parses "<len> <key>=<value>\n" records in place (keys and path values become NUL-terminated). */
static int parse_pax(struct tar_reader *r, char *p, size_t size, struct xerror *err)
{
  size_t pos = 0;

  while (pos < size) {
    char *rec = p + pos, *sp, *eq, *key, *val;
    size_t reclen = 0, i, vlen;

    for (i = 0; pos + i < size && rec[i] >= '0' && rec[i] <= '9' && i < 8; i++)
      reclen = reclen * 10 + (size_t) (rec[i] - '0');
    sp = rec + i;
    if (i == 0 || pos + i >= size || *sp != ' ' || reclen <= i + 1 || reclen > size - pos || rec[reclen - 1] != '\n')
      return xerror_make(err, 0, "invalid PAX header record");
    key = sp + 1;
    eq = memchr(key, '=', (size_t) (rec + reclen - 1 - key));
    if (eq == NULL || eq == key)
      return xerror_make(err, 0, "invalid PAX header record");
    *eq = '\0';
    val = eq + 1;
    vlen = (size_t) (rec + reclen - 1 - val);
    rec[reclen - 1] = '\0';
    pos += reclen;

    if (strcmp(key, "path") == 0 || strcmp(key, "linkpath") == 0) {
      if (memchr(val, '\0', vlen))
        return xerror_make(err, 0, "PAX %s contains a NUL byte", key);
      if (key[0] == 'p')
        r->pax_path = val;
      else
        r->pax_linkpath = val;
    } else if (strcmp(key, "size") == 0) {
      if (parse_decimal(val, vlen, &r->pax_size) < 0)
        return xerror_make(err, 0, "invalid PAX size");
      r->pax_has_size = true;
    } else if (strcmp(key, "uid") == 0) {
      if (parse_decimal(val, vlen, &r->pax_uid) < 0)
        return xerror_make(err, 0, "invalid PAX uid");
      r->pax_has_uid = true;
    } else if (strcmp(key, "gid") == 0) {
      if (parse_decimal(val, vlen, &r->pax_gid) < 0)
        return xerror_make(err, 0, "invalid PAX gid");
      r->pax_has_gid = true;
    } else if (strcmp(key, "mtime") == 0) {
      if (parse_pax_time(val, vlen, &r->pax_mtime) < 0)
        return xerror_make(err, 0, "invalid PAX mtime");
      r->pax_has_mtime = true;
    } else if (strncmp(key, "SCHILY.xattr.", 13) == 0) {
      if (key[13] == '\0')
        return xerror_make(err, 0, "invalid PAX xattr name");
      if (add_xattr(r, key + 13, val, vlen, err) < 0)
        return -1;
    } else if (strncmp(key, "GNU.sparse.", 11) == 0) {
      return xerror_make(err, 0, "sparse files are not supported");
    }
    /* uname, gname, atime, ctime, comment, charset, hdrcharset and vendor keys are ignored */
  }
  return 0;
}

static int read_header(struct tar_reader *r, bool *end, struct xerror *err)
{
  ssize_t n = stream_read(r->s, r->hdr, 512, err);
  *end = false;
  if (n < 0)
    return -1;
  if (n == 0) {
    *end = true; /* no end-of-archive blocks, but ended on a header boundary */
    return 0;
  }
  if (n != 512)
    return xerror_make(err, 0, "truncated tar archive");
  if (is_zero_block(r->hdr)) {
    *end = true;
    return 0;
  }
  if (verify_checksum(r->hdr) < 0)
    return xerror_make(err, 0, "invalid tar header (checksum mismatch): not a tar archive or corrupt");
  return 0;
}

/* Name from the ustar header: prefix "/" name for POSIX ustar, name alone for GNU and v7. */
static void header_name(struct tar_reader *r)
{
  const unsigned char *h = r->hdr;
  size_t nlen = strnlen((const char *) h, 100);
  bool posix = memcmp(h + 257, "ustar\0", 6) == 0;
  size_t plen = posix ? strnlen((const char *) h + 345, 155) : 0;
  size_t o = 0;

  if (plen > 0) {
    memcpy(r->name, h + 345, plen);
    r->name[plen] = '/';
    o = plen + 1;
  }
  memcpy(r->name + o, h, nlen);
  r->name[o + nlen] = '\0';
  nlen = strnlen((const char *) h + 157, 100);
  memcpy(r->linkname, h + 157, nlen);
  r->linkname[nlen] = '\0';
}

static bool header_only_type(char t)
{
  return t == '1' || t == '2' || t == '3' || t == '4' || t == '5' || t == '6';
}

int tar_next(struct tar_reader *r, struct tar_entry *e, const char **entry_name, struct xerror *err)
{
  reset_meta(r);
  *entry_name = NULL;
  for (;;) {
    bool end;
    uint64_t size;
    int64_t v;
    const unsigned char *h = r->hdr;
    char type;

    if (read_header(r, &end, err) < 0)
      return -1;
    if (end)
      return 0;
    header_name(r);
    *entry_name = r->has_longname ? r->longname : r->pax_path ? r->pax_path : r->name;
    type = (char) h[156];
    if (field_u64(h + 124, 12, &size) < 0)
      return xerror_make(err, 0, "invalid size field in tar header");

    switch (type) {
    case 'g':
      /* global headers are accepted and ignored */
      if (size > EXTRACT_META_MAX)
        return xerror_make(err, 0, "tar meta header of %llu bytes exceeds the 1 MiB limit", (unsigned long long) size);
      if (stream_skip(r->s, size + (512 - size % 512) % 512, err) < 0)
        return -1;
      continue;
    case 'x':
      if (read_body(r, size, &r->pax, &r->pax_cap, err) < 0)
        return -1;
      reset_pax(r);
      if (parse_pax(r, r->pax, size, err) < 0)
        return -1;
      continue;
    case 'L':
      if (read_body(r, size, &r->longname, &r->longname_cap, err) < 0)
        return -1;
      r->has_longname = true;
      continue;
    case 'K':
      if (read_body(r, size, &r->longlink, &r->longlink_cap, err) < 0)
        return -1;
      r->has_longlink = true;
      continue;
    default:
      break;
    }

    memset(e, 0, sizeof(*e));
    e->type = type;
    e->name = r->pax_path ? r->pax_path : r->has_longname ? r->longname : r->name;
    e->linkname = r->pax_linkpath ? r->pax_linkpath : r->has_longlink ? r->longlink : r->linkname;
    *entry_name = e->name;

    if (r->pax_has_size)
      size = r->pax_size;
    e->size = header_only_type(type) ? 0 : size;

    if (type == 'S')
      return xerror_make(err, 0, "sparse files are not supported");
    if (!(type == '0' || type == '\0' || type == '7' || header_only_type(type))) {
      if (type >= 0x20 && type < 0x7f)
        return xerror_make(err, 0, "unsupported tar entry type '%c'", type);
      return xerror_make(err, 0, "unsupported tar entry type 0x%02x", (unsigned char) type);
    }
    if (e->size > r->max_size)
      return xerror_make(err, 0, "entry size %llu exceeds the limit of %llu bytes", (unsigned long long) e->size,
                         (unsigned long long) r->max_size);

    if (parse_numeric(h + 100, 8, &v, false) < 0)
      return xerror_make(err, 0, "invalid mode field in tar header");
    e->mode = (mode_t) (v & 07777);
    if (r->pax_has_uid)
      e->uid = r->pax_uid;
    else if (field_u64(h + 108, 8, &e->uid) < 0)
      return xerror_make(err, 0, "invalid uid field in tar header");
    if (r->pax_has_gid)
      e->gid = r->pax_gid;
    else if (field_u64(h + 116, 8, &e->gid) < 0)
      return xerror_make(err, 0, "invalid gid field in tar header");
    if (r->pax_has_mtime) {
      e->mtime = r->pax_mtime;
    } else {
      if (parse_numeric(h + 136, 12, &v, true) < 0)
        return xerror_make(err, 0, "invalid mtime field in tar header");
      e->mtime.tv_sec = (time_t) v;
      e->mtime.tv_nsec = 0;
    }
    if (type == '3' || type == '4') {
      uint64_t ma, mi;
      if (field_u64(h + 329, 8, &ma) < 0 || field_u64(h + 337, 8, &mi) < 0 || ma > 0xfffff || mi > 0xfffff)
        return xerror_make(err, 0, "invalid device number in tar header");
      e->major = (unsigned) ma;
      e->minor = (unsigned) mi;
    }
    e->xattrs = r->xattrs;
    e->n_xattrs = r->n_xattrs;
    return 1;
  }
}

int tar_end_entry(struct tar_reader *r, const struct tar_entry *e, struct xerror *err)
{
  return stream_skip(r->s, (512 - e->size % 512) % 512, err);
}
