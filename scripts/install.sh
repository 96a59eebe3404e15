#!/usr/bin/env bash
# Installs tspod system-wide (run as root):
#   1. Debian packages tspod and its tests need (skipped when all are installed already)
#   2. npm ci (skipped when node_modules matches package-lock.json)
#   3. npm run build  (TypeScript bundle into dist/, C programs into build/)
#   4. copies dist/, build/, package.json, containers.conf into /usr/local/lib/tspod/
#      and links /usr/local/bin/tspod -> /usr/local/lib/tspod/build/tspod
#
# Flags:
#   --quick          skip apt and npm ci: just build + copy (development loop)
#   --packages-only  only step 1 (used by scripts/setup-test-host.sh)
#   --demo           after installing, make sure alpine:3.15 is available and run a real
#                    container as $SUDO_USER (or the test user tspodtest)
# Environment:
#   TSPOD_PREFIX        install prefix (default /usr/local)
#   TSPOD_DEMO_OFFLINE  =1: do not probe docker.io in --demo, use the local registry stand-in
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${TSPOD_PREFIX:-/usr/local}"
LIBDIR="$PREFIX/lib/tspod"
BINLINK="$PREFIX/bin/tspod"

TSPOD_PACKAGES=(
  uidmap slirp4netns passt fuse-overlayfs runc crun catatonit docker-registry busybox-static
  skopeo podman tmux curl jq zstd hyperfine apache2-utils gcc make zlib1g-dev libzstd-dev
  libssl-dev libc6-dev iproute2 attr nftables pigz
)

log() { printf '[install] %s\n' "$*" >&2; }
die() { printf '[install] error: %s\n' "$*" >&2; exit 1; }

missing_packages() {
  local p status
  for p in "${TSPOD_PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)"
    [[ "$status" == ii* ]] || printf '%s\n' "$p"
  done
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages)
  if ((${#missing[@]} == 0)); then
    log "Debian packages: all ${#TSPOD_PACKAGES[@]} present"
  else
    log "Debian packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Keep package postinst scripts from starting services (docker-registry would grab :5000).
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy"
      chmod 0755 "$policy"
      created_policy=1
    fi
    local rc=0
    {
      apt-get update -q &&
        apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
          "${missing[@]}"
    } || rc=$?
    ((created_policy)) && rm -f "$policy"
    ((rc == 0)) || die "apt-get failed (exit $rc)"
  fi
  # The distribution's own registry service (if systemd started it) listens on :5000 and would
  # shadow the test registry; tspod's tests run their own instances.
  if command -v systemctl >/dev/null 2>&1 &&
    { systemctl is-active --quiet docker-registry 2>/dev/null || systemctl is-enabled --quiet docker-registry 2>/dev/null; }; then
    log "stopping and disabling the docker-registry system service (it binds :5000)"
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
  command -v node >/dev/null || die "node (>= 20) is not installed"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  ((major >= 20)) || die "node >= 20 required, found $(node --version)"
}

npm_install() {
  cd "$REPO"
  if [[ ! -f package-lock.json ]]; then
    log "package-lock.json missing: npm install to create it"
    npm install --no-audit --no-fund --loglevel=error
  fi
  local want have=""
  want="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"
  [[ -f node_modules/.tspod-npm-stamp ]] && have="$(cat node_modules/.tspod-npm-stamp)"
  if [[ "$want" == "$have" && -x node_modules/.bin/vitest ]]; then
    log "npm: node_modules up to date"
    return
  fi
  log "npm ci"
  local out
  out="$(mktemp)"
  if ! npm ci --no-audit --no-fund --loglevel=error >"$out" 2>&1; then
    # This machine's npm (11.x) writes lock files without other platforms' optional packages
    # (rollup's @rollup/rollup-<os>-<cpu>) and then `npm ci` calls its own lock file out of sync.
    # `npm install` installs exactly the locked versions (it leaves the lock file as is).
    if grep -q 'in sync' "$out"; then
      log "npm ci refused the lock file ($(grep -m1 'Missing:' "$out" | sed 's/^npm error //')...): npm install instead"
      npm install --no-audit --no-fund --loglevel=error
    else
      cat "$out" >&2
      rm -f "$out"
      die "npm ci failed"
    fi
  fi
  rm -f "$out"
  echo "$want" >node_modules/.tspod-npm-stamp
}

build() {
  cd "$REPO"
  log "npm run build"
  npm run --silent build
}

install_files() {
  cd "$REPO"
  [[ -f dist/main.cjs ]] || die "dist/main.cjs missing after the build"
  [[ -x build/tspod ]] || die "build/tspod missing after the build"
  local stage="$LIBDIR.new.$$" old="$LIBDIR.old.$$"
  rm -rf "$stage"
  mkdir -p "$stage" "$PREFIX/bin"
  cp -a dist build package.json "$stage/"
  [[ -f containers.conf ]] && cp -a containers.conf "$stage/"
  chown -R root:root "$stage"
  chmod -R u+rwX,go+rX,go-w "$stage"
  chmod 0755 "$stage"
  if [[ -e "$LIBDIR" ]]; then
    mv "$LIBDIR" "$old"
  fi
  mv "$stage" "$LIBDIR"
  rm -rf "$old"
  ln -sfn "$LIBDIR/build/tspod" "$BINLINK"
  log "installed $LIBDIR ($(du -sh "$LIBDIR" | cut -f1)), $BINLINK -> $LIBDIR/build/tspod"
}

# Runs a command as $1 with a login-like environment, from its home directory (the checkout may
# not be readable by that user).
run_as() {
  local user="$1"; shift
  local uid home
  uid="$(id -u "$user")"
  home="$(getent passwd "$user" | cut -d: -f6)"
  (cd "$home" && runuser -u "$user" -- env -i HOME="$home" USER="$user" LOGNAME="$user" \
    PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 XDG_RUNTIME_DIR="/run/user/$uid" "$@")
}

demo() {
  # shellcheck source=setup-test-host.sh
  source "$REPO/scripts/setup-test-host.sh"
  prepare_devices
  local user
  if [[ -n "${SUDO_USER:-}" && "${SUDO_USER}" != root ]]; then
    user="$SUDO_USER"
    ensure_subids_for "$user"
    ensure_runtime_dir "$user"
  else
    ensure_test_users
    user="$TEST_USER"
  fi

  local offline=0
  if [[ "${TSPOD_DEMO_OFFLINE:-0}" == 1 ]]; then
    offline=1
  elif ! curl -sS -m 5 -o /dev/null https://registry-1.docker.io/v2/ 2>/dev/null; then
    offline=1
  fi
  if ((offline)); then
    log "docker.io is not reachable: serving a busybox-based alpine:3.15 stand-in from 127.0.0.1:5000"
    start_registry_5000
    write_registries_conf
    build_fixtures --only alpine
  fi

  log "demo as user $user"
  if run_as "$user" "$BINLINK" run --help >/dev/null 2>&1; then
    show "$user" run --rm alpine:3.15 echo "Hello from tspod"
  else
    log "'tspod run' is not available yet: pulling and listing images instead"
    show "$user" pull alpine:3.15
    show "$user" images
  fi
}

# Prints and runs a tspod command as $1.
show() {
  local user="$1"; shift
  printf '%s$ tspod %s\n' "$user" "$*" >&2
  run_as "$user" "$BINLINK" "$@"
}

main() {
  local quick=0 demo=0 packages_only=0 arg
  for arg in "$@"; do
    case "$arg" in
      --quick) quick=1 ;;
      --demo) demo=1 ;;
      --packages-only) packages_only=1 ;;
      -h | --help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown flag $arg (try --help)" ;;
    esac
  done
  [[ $(id -u) == 0 ]] || die "run as root (sudo bash scripts/install.sh)"
  umask 022

  if ((packages_only)); then
    install_packages
    return
  fi
  if ((!quick)); then
    install_packages
    npm_install
  fi
  build
  install_files
  if ((demo)); then
    demo
  fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
