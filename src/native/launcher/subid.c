/* /etc/subuid and /etc/subgid: lines "name:start:count" or "uid:start:count" (shadow's subuid(5)). */
#include "launcher.h"
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#define HINT_COUNT 65536ULL

const char *subid_file(bool uids)
{
  const char *f = getenv(uids ? "TSPOD_SUBUID_FILE" : "TSPOD_SUBGID_FILE");
  return (f && *f) ? f : uids ? "/etc/subuid" : "/etc/subgid";
}

/* Strict decimal uint32: no sign, no spaces, no trailing garbage. */
static bool parse_u32(const char *s, uint32_t *out)
{
  unsigned long long v = 0;

  if (*s == '\0') return false;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return false;
    v = v * 10 + (unsigned) (*s - '0');
    if (v > UINT32_MAX) return false;
  }
  *out = (uint32_t) v;
  return true;
}

/* Splits one line into its 3 fields; false for comments, blank and malformed lines. */
static bool parse_line(char *line, char **owner, uint32_t *start, uint32_t *count)
{
  char *f[3];
  size_t len = strlen(line);

  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
    line[--len] = '\0';
  while (*line == ' ' || *line == '\t')
    line++;
  if (*line == '\0' || *line == '#') return false;
  f[0] = line;
  f[1] = strchr(f[0], ':');
  if (f[1] == NULL) return false;
  *f[1]++ = '\0';
  f[2] = strchr(f[1], ':');
  if (f[2] == NULL) return false;
  *f[2]++ = '\0';
  if (*f[0] == '\0' || !parse_u32(f[1], start) || !parse_u32(f[2], count) || *count == 0 ||
      (unsigned long long) *start + *count > (unsigned long long) UINT32_MAX + 1)
    return false;
  *owner = f[0];
  return true;
}

/* Calls fn for each well-formed line; returns 0, or -1 with errno set. */
static int for_each_line(const char *file, void (*fn)(const char *, uint32_t, uint32_t, void *), void *data)
{
  FILE *fp = fopen(file, "re");
  char *line = NULL;
  size_t cap = 0;

  if (fp == NULL) return -1;
  while (getline(&line, &cap, fp) >= 0) {
    char *owner;
    uint32_t start, count;
    if (parse_line(line, &owner, &start, &count)) fn(owner, start, count, data);
  }
  free(line);
  fclose(fp);
  return 0;
}

struct match {
  const char *name;
  uid_t uid;
  struct subid_ranges *out;
};

static void add_if_match(const char *owner, uint32_t start, uint32_t count, void *data)
{
  struct match *m = data;
  uint32_t id;
  bool mine = (m->name != NULL && strcmp(owner, m->name) == 0) || (parse_u32(owner, &id) && id == (uint32_t) m->uid);

  if (mine && m->out->n < SUBID_MAX_RANGES) m->out->r[m->out->n++] = (struct subid_range){start, count};
}

int subid_read(const char *file, const char *name, uid_t uid, struct subid_ranges *out, launcher_error_t *err)
{
  struct match m = {name, uid, out};

  out->n = 0;
  if (for_each_line(file, add_if_match, &m) < 0 && errno != ENOENT)
    return launcher_make_error(err, errno, "read %s", file);
  return 0;
}

struct hint_scan {
  unsigned long long max_end;
  bool default_taken; /* some entry overlaps 100000-165535 */
};

static void scan_entry(const char *owner, uint32_t start, uint32_t count, void *data)
{
  struct hint_scan *h = data;
  unsigned long long end = (unsigned long long) start + count;

  if (end > h->max_end) h->max_end = end;
  if (start < 100000 + HINT_COUNT && end > 100000) h->default_taken = true;
}

/* A range no entry of either file uses, for the hint: 100000-165535 if free, else the first
 * 65536-aligned block above every existing range. */
static unsigned long long hint_start(void)
{
  struct hint_scan h = {0, false};
  unsigned long long start;

  for_each_line(subid_file(true), scan_entry, &h);
  for_each_line(subid_file(false), scan_entry, &h);
  if (!h.default_taken) return 100000;
  start = (h.max_end + HINT_COUNT - 1) / HINT_COUNT * HINT_COUNT;
  return start + HINT_COUNT - 1 <= UINT32_MAX ? start : 100000;
}

int subid_lookup(uid_t uid, struct subid_ranges *uids, struct subid_ranges *gids, launcher_error_t *err)
{
  struct passwd *pw = getpwuid(uid);
  const char *name = pw ? pw->pw_name : NULL;
  char who[300], fix[512], range[64];
  unsigned long long hs;
  bool no_uids, no_gids;
  int ret;

  ret = subid_read(subid_file(true), name, uid, uids, err);
  if (ret < 0) return ret;
  ret = subid_read(subid_file(false), name, uid, gids, err);
  if (ret < 0) return ret;
  no_uids = uids->n == 0;
  no_gids = gids->n == 0;
  if (!no_uids && !no_gids) return 0;

  if (name)
    snprintf(who, sizeof(who), "user \"%s\" (uid %u)", name, (unsigned) uid);
  else
    snprintf(who, sizeof(who), "uid %u", (unsigned) uid);
  hs = hint_start();
  snprintf(range, sizeof(range), "%llu-%llu", hs, hs + HINT_COUNT - 1);
  if (name)
    snprintf(fix, sizeof(fix), "sudo usermod%s%s%s%s %s", no_uids ? " --add-subuids " : "", no_uids ? range : "",
             no_gids ? " --add-subgids " : "", no_gids ? range : "", name);
  else
    snprintf(fix, sizeof(fix), "add the line \"%u:%llu:%llu\" to %s", (unsigned) uid, hs, HINT_COUNT,
             no_uids && no_gids ? "/etc/subuid and /etc/subgid"
             : no_uids          ? "/etc/subuid"
                                : "/etc/subgid");
  return launcher_make_error(err, 0, "no subordinate %s for %s in %s\nFix: %s", no_uids ? "UIDs" : "GIDs", who,
                             no_uids ? subid_file(true) : subid_file(false), fix);
}
