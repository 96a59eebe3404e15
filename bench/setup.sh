#!/usr/bin/env bash
# Builds the benchmark images and pushes them to the test registry (127.0.0.1:5000).
# Run as root, after scripts/setup-test-host.sh (which starts the registry). Idempotent: the
# debootstrap rootfs tarball and the OCI layouts are cached under $BENCH_CACHE, and an image whose
# tag already has the expected digest in the registry is not pushed again.
#
#   bash bench/setup.sh [--force]        (--force: rebuild layouts and re-push; keeps the rootfs)
#
# Images:
#   127.0.0.1:5000/bench/debian:minbase   Debian bookworm minbase (debootstrap), ONE gzip layer
#   127.0.0.1:5000/bench/layers5:latest   the same rootfs split into 5 gzip layers:
#                                          1 everything else, 2 usr/lib, 3 usr/share,
#                                          4 usr/bin+usr/sbin, 5 etc+var
# Environment:
#   BENCH_MIRROR   Debian mirror for debootstrap (default: the first Debian URI apt uses, from
#                  /etc/apt/sources.list{,.d/*})
#   BENCH_CACHE    cache directory (default /var/lib/tspod-test/bench)
#   BENCH_REGISTRY registry host:port (default 127.0.0.1:5000)
set -euo pipefail

CACHE=${BENCH_CACHE:-/var/lib/tspod-test/bench}
REGISTRY=${BENCH_REGISTRY:-127.0.0.1:5000}
SUITE=bookworm
FORCE=0
[[ ${1:-} == --force ]] && FORCE=1

log() { printf '[bench/setup] %s\n' "$*" >&2; }
die() { printf '[bench/setup] error: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root"
for cmd in debootstrap skopeo tar gzip sha256sum jq curl; do
  command -v "$cmd" >/dev/null || die "$cmd not installed"
done
curl -sf "http://$REGISTRY/v2/" >/dev/null || die "registry http://$REGISTRY not reachable (run scripts/setup-test-host.sh)"

# The mirror apt uses: deb822 "URIs:" lines or one-line "deb URL suite ..." entries whose suite is
# $SUITE (skips -security, -updates and third-party repositories).
find_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    if [[ $f == *.sources ]]; then
      awk -v suite="$SUITE" '
        /^[[:space:]]*$/ { if (uri != "" && hit) { print uri; exit } uri = ""; hit = 0; next }
        /^URIs:/ { uri = $2 }
        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) hit = 1 }
        END { if (uri != "" && hit) print uri }' "$f"
    else
      awk -v suite="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ ) { if ($(i+1) == suite) print $i; break } }' "$f"
    fi
  done | head -n1
}
MIRROR=${BENCH_MIRROR:-$(find_mirror)}
[[ -n $MIRROR ]] || die "cannot find the Debian mirror in /etc/apt/sources.list*; set BENCH_MIRROR"

mkdir -p "$CACHE"
ROOTFS_TAR=$CACHE/debian-$SUITE-minbase.rootfs.tar

# 1. rootfs tarball (numeric owners, xattrs; /dev, /proc, /sys, /run and /tmp left empty, as in
#    distribution images -- device nodes cannot be created by a rootless extraction anyway).
if [[ ! -s $ROOTFS_TAR ]]; then
  tmp=$CACHE/rootfs.tmp
  rm -rf "$tmp"
  log "debootstrap --variant=minbase $SUITE from $MIRROR (a few minutes)"
  debootstrap --variant=minbase "$SUITE" "$tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -n 30 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
  # Nothing may stay mounted under the target.
  if grep -q " $tmp/" /proc/mounts; then die "something is still mounted under $tmp"; fi
  tar --numeric-owner --xattrs --xattrs-include='*' --sort=name -C "$tmp" \
    --anchored --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    --exclude='./run/*' --exclude='./tmp/*' -cf "$ROOTFS_TAR.part" .
  mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
  rm -rf "$tmp"
fi
log "rootfs: $ROOTFS_TAR ($(du -m "$ROOTFS_TAR" | cut -f1) MiB, $(tar -tf "$ROOTFS_TAR" | wc -l) entries)"

CREATED=$(date -u -d "@$(stat -c %Y "$ROOTFS_TAR")" +%Y-%m-%dT%H:%M:%SZ)

# put_blob LAYOUT FILE -> prints the digest; moves FILE into LAYOUT/blobs/sha256/
put_blob() {
  local layout=$1 file=$2 hex
  hex=$(sha256sum "$file" | cut -d' ' -f1)
  mv "$file" "$layout/blobs/sha256/$hex"
  echo "sha256:$hex"
}

# build_layout NAME TAG SPEC... : each SPEC is a layer, given as tar(1) member/option arguments
# separated by spaces (applied to the extracted rootfs). Writes $CACHE/oci-NAME.
build_layout() {
  local name=$1 tag=$2; shift 2
  local layout=$CACHE/oci-$name
  local tmp=$layout.tmp
  rm -rf "$tmp"; mkdir -p "$tmp/blobs/sha256"
  local diff_ids=() layers=() spec i=0
  for spec in "$@"; do
    i=$((i + 1))
    local raw=$tmp/layer$i.tar
    # shellcheck disable=SC2086   # spec is deliberately word-split
    tar --numeric-owner --xattrs --xattrs-include='*' --sort=name -C "$ROOTFS_DIR" --anchored -cf "$raw" $spec
    diff_ids+=("sha256:$(sha256sum "$raw" | cut -d' ' -f1)")
    gzip -n -6 "$raw"
    local size digest
    size=$(stat -c %s "$raw.gz")
    digest=$(put_blob "$tmp" "$raw.gz")
    layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$digest\",\"size\":$size}")
    log "  $name layer $i: $digest $(( size / 1048576 )) MiB gzip, $(tar -tzf "$layout.tmp/blobs/sha256/${digest#sha256:}" | wc -l) entries  [$spec]"
  done
  local diffs history
  diffs=$(printf '%s\n' "${diff_ids[@]}" | jq -R . | jq -sc .)
  history=$(printf '%s\n' "${diff_ids[@]}" | jq -R "{created: \"$CREATED\", created_by: \"bench/setup.sh: debootstrap --variant=minbase $SUITE\"}" | jq -sc .)
  jq -n --arg created "$CREATED" --argjson diffs "$diffs" --argjson history "$history" '{
      created: $created, architecture: "amd64", os: "linux",
      config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["bash"] },
      rootfs: { type: "layers", diff_ids: $diffs }, history: $history }' | jq -c . | tr -d '\n' >"$tmp/config.json"
  local csize cdigest
  csize=$(stat -c %s "$tmp/config.json")
  cdigest=$(put_blob "$tmp" "$tmp/config.json")
  local layers_json
  layers_json=$(printf '%s\n' "${layers[@]}" | jq -sc .)
  jq -n --arg cd "$cdigest" --argjson cs "$csize" --argjson layers "$layers_json" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs },
      layers: $layers }' | jq -c . | tr -d '\n' >"$tmp/manifest.json"
  local msize mdigest
  msize=$(stat -c %s "$tmp/manifest.json")
  mdigest=$(put_blob "$tmp" "$tmp/manifest.json")
  jq -n --arg md "$mdigest" --argjson ms "$msize" --arg tag "$tag" '{ schemaVersion: 2,
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms,
                    annotations: { "org.opencontainers.image.ref.name": $tag } }] }' >"$tmp/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$tmp/oci-layout"
  rm -rf "$layout"; mv "$tmp" "$layout"
}

layout_digest() { jq -r '.manifests[0].digest' "$CACHE/oci-$1/index.json"; }

# 2. OCI layouts (built from one extraction of the rootfs tarball).
ROOTFS_DIR=
need_build() { [[ $FORCE == 1 || ! -f $CACHE/oci-$1/index.json || $CACHE/oci-$1/index.json -ot $ROOTFS_TAR ]]; }
if need_build minbase || need_build layers5; then
  ROOTFS_DIR=$CACHE/rootfs.extract
  rm -rf "$ROOTFS_DIR"; mkdir -p "$ROOTFS_DIR"
  tar --numeric-owner --xattrs --xattrs-include='*' -xpf "$ROOTFS_TAR" -C "$ROOTFS_DIR"
  trap 'rm -rf "$ROOTFS_DIR"' EXIT
fi
if need_build minbase; then
  log "building OCI layout bench/debian:minbase (1 layer)"
  build_layout minbase minbase "."
fi
if need_build layers5; then
  log "building OCI layout bench/layers5:latest (5 layers)"
  build_layout layers5 latest \
    "--exclude=./usr/lib --exclude=./usr/share --exclude=./usr/bin --exclude=./usr/sbin --exclude=./etc --exclude=./var ." \
    "./usr/lib" \
    "./usr/share" \
    "./usr/bin ./usr/sbin" \
    "./etc ./var"
fi

registry_digest() {
  { curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REGISTRY/v2/$1/manifests/$2" || true; } |
    tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }'
}

# 3. Push (skipped when the registry already serves the expected manifest digest).
push() {
  local name=$1 ref=$2 want have repo=${2%:*} tag=${2##*:}
  want=$(layout_digest "$name")
  have=$(registry_digest "$repo" "$tag")
  if [[ $have == "$want" && $FORCE == 0 ]]; then
    log "$REGISTRY/$ref is up to date ($want)"
    return
  fi
  log "pushing $REGISTRY/$ref ($want)"
  skopeo copy --quiet --preserve-digests --dest-tls-verify=false "oci:$CACHE/oci-$name:$tag" "docker://$REGISTRY/$ref"
  have=$(registry_digest "$repo" "$tag")
  [[ $have == "$want" ]] || die "$REGISTRY/$ref has digest '$have' after the push, expected $want"
}
push minbase bench/debian:minbase
push layers5 bench/layers5:latest

for name in minbase layers5; do
  m=$CACHE/oci-$name/blobs/sha256/$(layout_digest $name | cut -d: -f2)
  printf '[bench/setup] %-8s %s: %d layer(s), %s bytes gzip\n' "$name" "$(layout_digest $name)" \
    "$(jq '.layers | length' "$m")" "$(jq '[.layers[].size] | add' "$m")" >&2
done
