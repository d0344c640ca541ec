# One development release (DEB, RPM, tarball for x86_64 and aarch64, BENCH_RELEASE_MB each,
# default 40, random so nothing compresses) into the development channel of an S3 bucket on
# moto_server that already holds BENCH_RELEASE_VERSIONS (default 50) development versions of
# BENCH_RELEASE_HISTORY_MB each (default 4: moto keeps every object in memory), against the way
# Falco publishes today (scripts/bench.d/release-peer: `aws s3 sync` of the channel down,
# apt-ftparchive, createrepo_c --update, gpg, `aws s3 sync` back up) on a second bucket seeded
# identically, on the same server.
#
# Both sides are counted the same way: the workload runs in its own network namespace
# (`unshare --net`, root), so the loopback interface carries only the traffic between the
# publisher and moto; bytes are lo's counter (/proc/net/dev: both directions, with TCP/IP
# headers) before and after, requests are the lines of moto's request log. Ours' wall time is
# the publish alone, timed by the example (the process line around it includes packing): its
# packages are built first, and the peer is handed those same packages already built and signed.
run_release() {
  if [ -z "${BENCH_RELEASE_NETNS:-}" ]; then
    release_deps
    cargo build -q --release -p falco-artifacts --features s3 --example release-bench
    unshare --net -- env BENCH_RELEASE_NETNS=1 bash -c 'ip link set lo up && exec scripts/bench release'
    return
  fi
  local versions=${BENCH_RELEASE_VERSIONS:-50} history_mb=${BENCH_RELEASE_HISTORY_MB:-4}
  local new_mb=${BENCH_RELEASE_MB:-40}
  local port=9190 log=$work/moto.log
  moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  bench_pids+=($!)
  local endpoint=http://127.0.0.1:$port
  release_s3() { AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 \
    aws --endpoint-url "$endpoint" s3 "$@"; }

  for _ in $(seq 50); do
    release_s3 ls >/dev/null 2>&1 && break
    sleep 0.2
  done
  release_s3 mb s3://bench-ours >/dev/null
  release_s3 mb s3://bench-peer >/dev/null

  release_manifest "$work/history" "$history_mb"
  release_manifest "$work/new-release" "$new_mb"
  local key=$work/key.asc ours=(s3://bench-ours "$endpoint")
  echo "seeding $versions development versions of ${history_mb} MiB payload (6 files each) through the pipeline"
  "$bin/release-bench" seed "${ours[@]}" "$work/history/falco.yaml" "$key" "$work" "$versions"
  # The peer's bucket: a server-side copy of ours, so both start from the same objects.
  release_s3 sync --quiet s3://bench-ours s3://bench-peer
  echo "store: $(release_s3 ls --recursive --summarize s3://bench-ours | awk '/Total Objects|Total Size/ {printf "%s %s  ", $2, $3}')per bucket"
  echo "load before: $(uptime)"

  local n=$((versions + 1)) bytes0 bytes1 req0 req1
  echo "release: one development version, ${new_mb} MiB payload, DEB + RPM + tarball for x86_64 and aarch64"
  bytes0=$(release_lo_bytes); req0=$(release_requests "$log")
  measure "falco-artifacts release-bench (pack + publish)" bash -c \
    "$bin/release-bench publish ${ours[*]} $work/new-release/falco.yaml $key $work $n >$work/ours.out"
  bytes1=$(release_lo_bytes); req1=$(release_requests "$log")
  local ours_secs ours_bytes=$((bytes1 - bytes0)) ours_req=$((req1 - req0))
  ours_secs=$(awk '{ print $3 }' "$work/ours.out")
  echo "  $(cat "$work/ours.out")"

  # The peer gets the same packages, each with a detached signature, already made.
  mkdir -m 700 "$work/gnupg"
  gpg --homedir "$work/gnupg" --batch --quiet --import "$key"
  local new=$work/peer-new f
  mkdir -p "$new"
  cp "$work"/new/*.deb "$work"/new/*.rpm "$work"/new/*.tar.gz "$work"/new/*.tar.gz.sha256 "$new/"
  for f in "$new"/*.deb "$new"/*.rpm "$new"/*.tar.gz; do
    gpg --homedir "$work/gnupg" --batch --quiet --yes --digest-algo SHA256 --armor --detach-sign -o "$f.asc" "$f"
  done
  bytes0=$(release_lo_bytes); req0=$(release_requests "$log")
  measure "aws s3 sync + apt-ftparchive + createrepo_c + gpg + sync" \
    scripts/bench.d/release-peer "$endpoint" bench-peer "$new" "$work/gnupg" "$work/peer-tree"
  bytes1=$(release_lo_bytes); req1=$(release_requests "$log")
  local peer_secs=$LAST_SECS peer_bytes=$((bytes1 - bytes0)) peer_req=$((req1 - req0))
  echo "load after: $(uptime)"

  printf '  %-8s %10s %16s %10s\n' "" "wall s" "bytes on lo" "requests"
  printf '  %-8s %10s %16d %10d\n' ours "$ours_secs" "$ours_bytes" "$ours_req"
  printf '  %-8s %10s %16d %10d\n' peer "$peer_secs" "$peer_bytes" "$peer_req"
  awk -v ps="$peer_secs" -v os="$ours_secs" -v pb="$peer_bytes" -v ob="$ours_bytes" \
    -v pr="$peer_req" -v orq="$ours_req" 'BEGIN {
      printf "  ratio peer/ours: %.1fx wall, %.1fx bytes, %.1fx requests (above 1 means ours does less)\n",
        ps / os, pb / ob, pr / orq }'
}

# release_deps: the peer's tools (awscli from PyPI, like Falco's CI) and the namespace's.
release_deps() {
  need apt-ftparchive apt-utils
  need createrepo_c createrepo-c
  need gpg gpg
  need ip iproute2
  need unshare util-linux
  release_pip moto_server 'moto[server]>=5'
  release_pip aws awscli
}

# release_pip COMMAND SPEC: installs SPEC from PyPI unless COMMAND is on PATH.
release_pip() {
  command -v "$1" >/dev/null 2>&1 && return
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip >/dev/null
  # Debian's own python3 refuses system-wide pip installs (PEP 668) unless told otherwise.
  python3 -m pip install --quiet "$2" || python3 -m pip install --quiet --break-system-packages "$2"
}

# release_manifest DIR MB: the sample package (examples/sample) with a /usr/bin/falco of MB
# MiB of random bytes.
release_manifest() {
  cp -a examples/sample "$1"
  head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$1/payload/usr/bin/falco"
}

# Bytes the loopback interface received (in this namespace: every byte either side sent).
release_lo_bytes() { awk '$1 == "lo:" { print $2 }' /proc/net/dev; }

# Requests moto has answered so far: one log line each.
release_requests() { grep -c '" [0-9][0-9][0-9] ' "$1" || true; }
