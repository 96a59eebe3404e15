#!/usr/bin/env bash
# Prepares this machine for tspod's end-to-end tests (run as root; idempotent, fast on re-run):
#   - Debian packages (scripts/install.sh --packages-only)
#   - test user tspodtest (subuid/subgid 200000:65536), tspodnosub (no subordinate ids),
#     /run/user/<uid>, podman settings for side-by-side runs (runc, cgroupfs, file events)
#   - /dev/net/tun and /dev/fuse mode 0666
#   - registries: 127.0.0.1:5000 anonymous, :5001 token auth (token server :5002),
#     :5003 htpasswd basic auth; state, pid files and logs in /var/lib/tspod-test/
#   - /etc/containers/registries.conf.d/50-tspod-test.conf: docker.io + quay.io mirrored to :5000
#   - fixture images (test/fixtures/build-fixtures.mjs)
# Flags: --force-fixtures  re-push all fixture images
#        --no-fixtures     skip the fixture images
# Can also be sourced (scripts/install.sh --demo does) to use the functions one by one.
set -euo pipefail

SETUP_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEST_USER=tspodtest
NOSUB_USER=tspodnosub
TEST_SUBID_START=200000
TEST_SUBID_COUNT=65536
STATE=/var/lib/tspod-test
DROPIN=/etc/containers/registries.conf.d/50-tspod-test.conf
TOKEN_SERVICE=tspod-test
TOKEN_ISSUER=tspod-test-issuer

slog() { printf '[setup-test-host] %s\n' "$*" >&2; }
sdie() { printf '[setup-test-host] error: %s\n' "$*" >&2; exit 1; }

# Writes stdin to $1 (mode $2, owner $3) only when the content differs. Returns 0 if changed.
write_file() {
  local path="$1" mode="${2:-0644}" owner="${3:-root:root}" tmp
  tmp="$(mktemp "${path}.XXXXXX")"
  cat >"$tmp"
  chmod "$mode" "$tmp"
  chown "$owner" "$tmp"
  if [[ -f "$path" ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    # keep mode/owner right even when content is unchanged
    chmod "$mode" "$path"
    chown "$owner" "$path"
    return 1
  fi
  mv -f "$tmp" "$path"
  return 0
}

ensure_packages() {
  bash "$SETUP_REPO/scripts/install.sh" --packages-only
}

prepare_devices() {
  if [[ ! -c /dev/net/tun ]]; then
    mkdir -p /dev/net
    mknod /dev/net/tun c 10 200
  fi
  [[ -c /dev/fuse ]] || mknod /dev/fuse c 10 229
  chmod 0666 /dev/net/tun /dev/fuse
}

# Sets the only /etc/sub[ug]id line of $1 to "$1:$2:$3" (removing other ranges of that user).
set_subid_line() {
  local user="$1" start="$2" count="$3" f
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    if ! grep -qx "$user:$start:$count" "$f" || [[ $(grep -c "^$user:" "$f") != 1 ]]; then
      sed -i "/^$user:/d" "$f"
      echo "$user:$start:$count" >>"$f"
    fi
  done
}

remove_subid_lines() {
  local user="$1" f
  for f in /etc/subuid /etc/subgid; do
    [[ -f "$f" ]] && sed -i "/^$user:/d" "$f"
  done
  return 0
}

# For --demo with a real user: give them a subordinate range if they have none.
ensure_subids_for() {
  local user="$1" f start
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    if ! grep -q "^$user:" "$f"; then
      start="$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$f")"
      echo "$user:$start:65536" >>"$f"
      slog "added $user:$start:65536 to $f"
    fi
  done
}

ensure_runtime_dir() {
  local user="$1" uid
  uid="$(id -u "$user")"
  mkdir -p /run/user
  chmod 0755 /run/user
  mkdir -p "/run/user/$uid"
  chown "$user:$(id -gn "$user")" "/run/user/$uid"
  chmod 0700 "/run/user/$uid"
}

ensure_user() {
  local user="$1"
  if ! id "$user" >/dev/null 2>&1; then
    # SUB_*_COUNT=0: don't let useradd allocate ranges; they are managed here.
    useradd -m -s /bin/bash -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$user"
    slog "created user $user"
  fi
}

ensure_test_users() {
  ensure_user "$TEST_USER"
  ensure_user "$NOSUB_USER"
  set_subid_line "$TEST_USER" "$TEST_SUBID_START" "$TEST_SUBID_COUNT"
  remove_subid_lines "$NOSUB_USER"
  ensure_runtime_dir "$TEST_USER"
  ensure_runtime_dir "$NOSUB_USER"

  local home group
  home="$(getent passwd "$TEST_USER" | cut -d: -f6)"
  group="$(id -gn "$TEST_USER")"
  install -d -m 0755 -o "$TEST_USER" -g "$group" "$home/e2e" "$home/.config" "$home/.config/containers"
  # podman for side-by-side runs (TSPOD_BIN=podman): crun refuses hybrid cgroups on these hosts.
  write_file "$home/.config/containers/containers.conf" 0644 "$TEST_USER:$group" <<'EOF' || true
# written by tspod's scripts/setup-test-host.sh
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
}

# start_daemon NAME CHECK_URL EXPECTED_HTTP_CODE CONFIG_HASH -- COMMAND...
# Skips when the port already answers as expected (restarts our own instance if its config changed).
start_daemon() {
  local name="$1" url="$2" want="$3" hash="$4"
  shift 5
  local pidf="$STATE/$name.pid" logf="$STATE/$name.log" hashf="$STATE/$name.confhash" pid="" code
  [[ -f "$pidf" ]] && pid="$(cat "$pidf")"
  if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then pid=""; fi
  code="$(curl -s -o /dev/null -m 3 -w '%{http_code}' "$url" || true)"
  if [[ "$code" != 000 ]]; then
    if [[ -n "$pid" && "$(cat "$hashf" 2>/dev/null)" != "$hash" ]]; then
      slog "$name: configuration changed, restarting (pid $pid)"
      kill "$pid" 2>/dev/null || true
      local i
      for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    elif [[ "$code" == "$want" ]]; then
      return 0
    else
      sdie "$name: $url answers HTTP $code (expected $want) and is not ours; stop whatever listens there"
    fi
  fi
  slog "$name: starting ($*), log $logf"
  setsid nohup "$@" >>"$logf" 2>&1 </dev/null &
  echo $! >"$pidf"
  echo "$hash" >"$hashf"
  local i
  for i in $(seq 100); do
    code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)"
    [[ "$code" == "$want" ]] && return 0
    if ! kill -0 "$(cat "$pidf")" 2>/dev/null; then
      tail -n 20 "$logf" >&2
      sdie "$name exited; see $logf"
    fi
    sleep 0.1
  done
  tail -n 20 "$logf" >&2
  sdie "$name: $url did not answer $want within 10 s (last: $code)"
}

registry_config() { # PORT EXTRA_YAML
  cat <<EOF
# written by tspod's scripts/setup-test-host.sh
version: 0.1
log:
  level: info
  fields:
    service: registry-$1
storage:
  filesystem:
    rootdirectory: $STATE/registry-$1/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$1
  secret: tspod-test-registry-$1
  headers:
    X-Content-Type-Options: [nosniff]
$2
EOF
}

run_registry() { # PORT EXPECTED_CODE
  local port="$1" dir="$STATE/registry-$1"
  start_daemon "registry-$port" "http://127.0.0.1:$port/v2/" "$2" \
    "$(sha256sum "$dir/config.yml" | cut -d' ' -f1)" -- /usr/bin/docker-registry serve "$dir/config.yml"
}

prepare_state() {
  install -d -m 0755 "$STATE" "$STATE/fixtures"
}

start_registry_5000() {
  prepare_state
  install -d -m 0755 "$STATE/registry-5000" "$STATE/registry-5000/data"
  registry_config 5000 "" | write_file "$STATE/registry-5000/config.yml" || true
  run_registry 5000 200
}

start_token_registry() {
  local tdir="$STATE/token" dir="$STATE/registry-5001"
  install -d -m 0755 "$tdir" "$dir" "$dir/data"
  if [[ ! -s "$tdir/key.pem" || ! -s "$tdir/cert.pem" ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -subj "/CN=$TOKEN_ISSUER" -keyout "$tdir/key.pem" -out "$tdir/cert.pem" 2>/dev/null
    chmod 0600 "$tdir/key.pem"
    slog "generated token signing key and certificate in $tdir"
  fi
  # Run the token server from /var/lib (the checkout may be removed or unreadable later).
  cp "$SETUP_REPO/test/fixtures/token-server.mjs" "$tdir/token-server.mjs.new"
  if cmp -s "$tdir/token-server.mjs.new" "$tdir/token-server.mjs"; then
    rm -f "$tdir/token-server.mjs.new"
  else
    mv -f "$tdir/token-server.mjs.new" "$tdir/token-server.mjs"
  fi
  start_daemon token-5002 "http://127.0.0.1:5002/healthz" 200 \
    "$(cat "$tdir/token-server.mjs" "$tdir/cert.pem" | sha256sum | cut -d' ' -f1)" -- \
    "$(command -v node)" "$tdir/token-server.mjs" --listen 127.0.0.1:5002 --key "$tdir/key.pem" \
    --cert "$tdir/cert.pem" --service "$TOKEN_SERVICE" --issuer "$TOKEN_ISSUER" --user tspoduser:tspodpass

  registry_config 5001 "auth:
  token:
    realm: http://127.0.0.1:5002/token
    service: $TOKEN_SERVICE
    issuer: $TOKEN_ISSUER
    rootcertbundle: $tdir/cert.pem" | write_file "$dir/config.yml" || true
  run_registry 5001 401
}

start_basic_registry() {
  local dir="$STATE/registry-5003"
  install -d -m 0755 "$dir" "$dir/data"
  if [[ ! -s "$dir/htpasswd" ]] || ! htpasswd -vb "$dir/htpasswd" tspoduser tspodpass >/dev/null 2>&1; then
    htpasswd -Bbn tspoduser tspodpass | sed '/^$/d' >"$dir/htpasswd"
  fi
  registry_config 5003 "auth:
  htpasswd:
    realm: tspod-test-basic
    path: $dir/htpasswd" | write_file "$dir/config.yml" || true
  run_registry 5003 401
}

write_registries_conf() {
  mkdir -p "$(dirname "$DROPIN")"
  local search=""
  if ! grep -Eq '^[[:space:]]*unqualified-search-registries[[:space:]]*=' /etc/containers/registries.conf 2>/dev/null; then
    search='unqualified-search-registries = ["docker.io"]'
  fi
  write_file "$DROPIN" <<EOF || true
# written by tspod's scripts/setup-test-host.sh: test registries on 127.0.0.1
$search

[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "127.0.0.1:5000"
insecure = true

[[registry]]
prefix = "quay.io"
location = "quay.io"
[[registry.mirror]]
location = "127.0.0.1:5000"
insecure = true

[[registry]]
location = "127.0.0.1:5000"
insecure = true

[[registry]]
location = "127.0.0.1:5001"
insecure = true

[[registry]]
location = "127.0.0.1:5003"
insecure = true
EOF
}

build_fixtures() {
  prepare_state
  node "$SETUP_REPO/test/fixtures/build-fixtures.mjs" \
    --manifest-out "$STATE/fixtures/layers-expected.json" "$@" >&2
  chmod -R a+rX "$STATE/fixtures"
}

setup_test_host_main() {
  local fixtures=1 fixture_args=() arg
  for arg in "$@"; do
    case "$arg" in
      --force-fixtures) fixture_args+=(--force) ;;
      --no-fixtures) fixtures=0 ;;
      -h | --help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; return 0 ;;
      *) sdie "unknown flag $arg" ;;
    esac
  done
  [[ $(id -u) == 0 ]] || sdie "run as root"
  umask 022
  local t0=$SECONDS
  ensure_packages
  prepare_devices
  ensure_test_users
  prepare_state
  start_registry_5000
  start_token_registry
  start_basic_registry
  write_registries_conf
  if ((fixtures)); then build_fixtures "${fixture_args[@]}"; fi
  slog "test host ready in $((SECONDS - t0)) s (user $TEST_USER uid $(id -u "$TEST_USER"); registries 127.0.0.1:5000, :5001 token via :5002, :5003 basic)"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  setup_test_host_main "$@"
fi
