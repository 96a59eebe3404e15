/* The decompressed input stream: a helper thread reads the blob, detects and undoes gzip or zstd,
 * hashes (sha256 = the layer's diff ID) and counts every decompressed byte, and hands 1 MiB chunks to
 * the extracting thread through a small ring, so decompression and file writing overlap. */
#include "extract.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define RING 4

enum format { FMT_PLAIN, FMT_GZIP, FMT_ZSTD };

struct chunk
{
  unsigned char *data;
  size_t len;
};

struct stream
{
  /* producer side */
  int fd;
  uint64_t max_size;
  enum format fmt;
  unsigned char *in;
  size_t in_len;
  bool in_eof;
  z_stream z;
  bool z_ready, z_member_done;
  ZSTD_DStream *zs;
  ZSTD_inBuffer zin;
  size_t z_last;
  EVP_MD_CTX *md;
  uint64_t total;
  pthread_t thread;
  bool thread_started;

  /* shared, under lock */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct chunk ring[RING];
  unsigned head, count;
  bool done;
  struct xerror perr;

  /* consumer side */
  bool have_cur;
  size_t cur_pos;
};

static int read_input(struct stream *s, struct xerror *err)
{
  ssize_t n;

  for (;;) {
    n = read(s->fd, s->in, EXTRACT_BUF_SIZE);
    if (n >= 0)
      break;
    if (errno != EINTR)
      return xerror_make(err, errno, "read layer");
  }
  s->in_len = (size_t) n;
  if (n == 0)
    s->in_eof = true;
  return 0;
}

/* Plain: the first input buffer, then reads straight into the chunk. */
static int fill_plain(struct stream *s, struct chunk *c, struct xerror *err)
{
  while (c->len < EXTRACT_BUF_SIZE && !s->in_eof) {
    ssize_t n;
    if (s->in_len > 0) {
      size_t k = s->in_len < EXTRACT_BUF_SIZE - c->len ? s->in_len : EXTRACT_BUF_SIZE - c->len;
      memcpy(c->data + c->len, s->in, k);
      memmove(s->in, s->in + k, s->in_len - k);
      s->in_len -= k;
      c->len += k;
      continue;
    }
    n = read(s->fd, c->data + c->len, EXTRACT_BUF_SIZE - c->len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return xerror_make(err, errno, "read layer");
    }
    if (n == 0)
      s->in_eof = true;
    c->len += (size_t) n;
  }
  return 0;
}

/* gzip, multi-member: after a member ends, more input must be another member. */
static int fill_gzip(struct stream *s, struct chunk *c, struct xerror *err)
{
  int ret;

  while (c->len < EXTRACT_BUF_SIZE) {
    if (s->z.avail_in == 0) {
      if (!s->in_eof) {
        if (read_input(s, err) < 0)
          return -1;
        s->z.next_in = s->in;
        s->z.avail_in = (uInt) s->in_len;
      }
      if (s->z.avail_in == 0) {
        if (!s->z_member_done)
          return xerror_make(err, 0, "truncated gzip stream");
        return 0;
      }
    }
    if (s->z_member_done) {
      if (inflateReset(&s->z) != Z_OK)
        return xerror_make(err, 0, "gzip: inflateReset failed");
      s->z_member_done = false;
    }
    s->z.next_out = c->data + c->len;
    s->z.avail_out = (uInt) (EXTRACT_BUF_SIZE - c->len);
    ret = inflate(&s->z, Z_NO_FLUSH);
    c->len = EXTRACT_BUF_SIZE - s->z.avail_out;
    if (ret == Z_STREAM_END)
      s->z_member_done = true;
    else if (ret != Z_OK && ret != Z_BUF_ERROR)
      return xerror_make(err, 0, "invalid gzip stream: %s", s->z.msg ? s->z.msg : "corrupt data");
  }
  return 0;
}

static int fill_zstd(struct stream *s, struct chunk *c, struct xerror *err)
{
  while (c->len < EXTRACT_BUF_SIZE) {
    ZSTD_outBuffer out = { c->data + c->len, EXTRACT_BUF_SIZE - c->len, 0 };
    size_t ret;
    bool drained;

    if (s->zin.pos == s->zin.size && !s->in_eof) {
      if (read_input(s, err) < 0)
        return -1;
      s->zin.src = s->in;
      s->zin.size = s->in_len;
      s->zin.pos = 0;
    }
    drained = s->zin.pos == s->zin.size && s->in_eof;
    if (drained && s->z_last == 0)
      return 0; /* the last frame ended exactly at the end of input */
    ret = ZSTD_decompressStream(s->zs, &out, &s->zin);
    if (ZSTD_isError(ret))
      return xerror_make(err, 0, "invalid zstd stream: %s", ZSTD_getErrorName(ret));
    c->len += out.pos;
    if (drained && out.pos == 0)
      return xerror_make(err, 0, "truncated zstd stream");
    s->z_last = ret;
  }
  return 0;
}

static int detect(struct stream *s, struct xerror *err)
{
  /* read until 4 bytes (the longest magic) or EOF */
  while (s->in_len < 4 && !s->in_eof) {
    ssize_t n = read(s->fd, s->in + s->in_len, EXTRACT_BUF_SIZE - s->in_len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return xerror_make(err, errno, "read layer");
    }
    if (n == 0)
      s->in_eof = true;
    s->in_len += (size_t) n;
  }
  if (s->in_len >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
    s->fmt = FMT_GZIP;
    if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
      return xerror_make(err, 0, "gzip: inflateInit failed");
    s->z_ready = true;
    s->z.next_in = s->in;
    s->z.avail_in = (uInt) s->in_len;
  } else if (s->in_len >= 4 && s->in[0] == 0x28 && s->in[1] == 0xb5 && s->in[2] == 0x2f && s->in[3] == 0xfd) {
    s->fmt = FMT_ZSTD;
    s->zs = ZSTD_createDStream();
    if (s->zs == NULL)
      return xerror_make(err, ENOMEM, "zstd");
    s->zin.src = s->in;
    s->zin.size = s->in_len;
    s->zin.pos = 0;
    s->z_last = 1;
  } else {
    s->fmt = FMT_PLAIN;
  }
  return 0;
}

static void produce(struct stream *s)
{
  struct xerror err = { 0 };
  unsigned slot = 0;
  bool eof = false;

  if (detect(s, &err) < 0)
    goto out;
  while (!eof) {
    struct chunk *c;
    int ret;

    pthread_mutex_lock(&s->lock);
    while (s->count == RING)
      pthread_cond_wait(&s->cond, &s->lock);
    slot = (s->head + s->count) % RING;
    pthread_mutex_unlock(&s->lock);

    c = &s->ring[slot];
    c->len = 0;
    if (s->fmt == FMT_GZIP)
      ret = fill_gzip(s, c, &err);
    else if (s->fmt == FMT_ZSTD)
      ret = fill_zstd(s, c, &err);
    else
      ret = fill_plain(s, c, &err);
    if (ret < 0)
      goto out;
    if (c->len < EXTRACT_BUF_SIZE)
      eof = true;
    if (c->len == 0)
      break;
    s->total += c->len;
    if (s->total > s->max_size) {
      xerror_make(&err, 0, "decompressed size exceeds %llu bytes", (unsigned long long) s->max_size);
      goto out;
    }
    if (EVP_DigestUpdate(s->md, c->data, c->len) != 1) {
      xerror_make(&err, 0, "sha256 failed");
      goto out;
    }
    pthread_mutex_lock(&s->lock);
    s->count++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
  }
out:
  pthread_mutex_lock(&s->lock);
  s->perr = err;
  s->done = true;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->lock);
}

static void *producer_main(void *arg)
{
  produce(arg);
  return NULL;
}

int stream_open(struct stream **out, int fd, uint64_t max_size, struct xerror *err)
{
  struct stream *s;
  int i;

  s = calloc(1, sizeof(*s));
  if (s == NULL)
    return xerror_make(err, ENOMEM, "allocate stream");
  s->fd = fd;
  s->max_size = max_size;
  s->in = malloc(EXTRACT_BUF_SIZE);
  if (s->in == NULL)
    return xerror_make(err, ENOMEM, "allocate buffer");
  for (i = 0; i < RING; i++) {
    s->ring[i].data = malloc(EXTRACT_BUF_SIZE);
    if (s->ring[i].data == NULL)
      return xerror_make(err, ENOMEM, "allocate buffer");
  }
  s->md = EVP_MD_CTX_new();
  if (s->md == NULL || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1)
    return xerror_make(err, 0, "sha256 init failed");
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->cond, NULL);
  /* Fewer, larger reads from a pipe; not an error if the kernel refuses. */
  (void) fcntl(fd, F_SETPIPE_SZ, EXTRACT_BUF_SIZE);
  errno = pthread_create(&s->thread, NULL, producer_main, s);
  if (errno != 0)
    return xerror_make(err, errno, "pthread_create");
  s->thread_started = true;
  *out = s;
  return 0;
}

int stream_peek(struct stream *s, const unsigned char **p, size_t *avail, struct xerror *err)
{
  struct chunk *c;

  if (s->have_cur) {
    c = &s->ring[s->head];
    if (s->cur_pos < c->len) {
      *p = c->data + s->cur_pos;
      *avail = c->len - s->cur_pos;
      return 0;
    }
    pthread_mutex_lock(&s->lock);
    s->head = (s->head + 1) % RING;
    s->count--;
    s->have_cur = false;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
  }
  pthread_mutex_lock(&s->lock);
  while (s->count == 0 && !s->done)
    pthread_cond_wait(&s->cond, &s->lock);
  if (s->count == 0) {
    pthread_mutex_unlock(&s->lock);
    *avail = 0;
    if (s->perr.set) {
      if (!err->set)
        *err = s->perr;
      return -1;
    }
    return 0;
  }
  pthread_mutex_unlock(&s->lock);
  s->have_cur = true;
  s->cur_pos = 0;
  c = &s->ring[s->head];
  *p = c->data;
  *avail = c->len;
  return 0;
}

void stream_consume(struct stream *s, size_t n)
{
  s->cur_pos += n;
}

ssize_t stream_read(struct stream *s, void *buf, size_t n, struct xerror *err)
{
  size_t got = 0;

  while (got < n) {
    const unsigned char *p;
    size_t avail;
    if (stream_peek(s, &p, &avail, err) < 0)
      return -1;
    if (avail == 0)
      break;
    if (avail > n - got)
      avail = n - got;
    memcpy((char *) buf + got, p, avail);
    stream_consume(s, avail);
    got += avail;
  }
  return (ssize_t) got;
}

int stream_skip(struct stream *s, uint64_t n, struct xerror *err)
{
  while (n > 0) {
    const unsigned char *p;
    size_t avail;
    if (stream_peek(s, &p, &avail, err) < 0)
      return -1;
    if (avail == 0)
      return xerror_make(err, 0, "truncated tar archive");
    if (avail > n)
      avail = n;
    stream_consume(s, avail);
    n -= avail;
  }
  return 0;
}

int stream_finish(struct stream *s, char hex[65], uint64_t *total, struct xerror *err)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0, i;

  for (;;) {
    const unsigned char *p;
    size_t avail;
    if (stream_peek(s, &p, &avail, err) < 0)
      return -1;
    if (avail == 0)
      break;
    stream_consume(s, avail);
  }
  pthread_join(s->thread, NULL);
  s->thread_started = false;
  if (EVP_DigestFinal_ex(s->md, md, &mdlen) != 1 || mdlen != 32)
    return xerror_make(err, 0, "sha256 failed");
  for (i = 0; i < mdlen; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  *total = s->total;
  return 0;
}

void stream_free(struct stream *s)
{
  int i;

  if (s == NULL)
    return;
  if (s->thread_started)
    return; /* still running: only stream_finish joins it; the process is about to exit */
  if (s->z_ready)
    inflateEnd(&s->z);
  ZSTD_freeDStream(s->zs);
  EVP_MD_CTX_free(s->md);
  for (i = 0; i < RING; i++)
    free(s->ring[i].data);
  free(s->in);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->cond);
  free(s);
}
