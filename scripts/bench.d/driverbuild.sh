# Drivers Build Grid, real builds: 8 configs building the test module
# (crates/driver-grid/tests/data/driver) against Debian's kernel headers served on loopback
# HTTP, with the local backend. Measured: the first run (downloads + unpack + builds), a second
# run with the download cache warm (downloads skipped), then 1 worker against 2 workers with the
# kernel tree already unpacked (target >= 1.7x on 2 cores).
run_driverbuild() {
  build_examples falco-artifacts-driver-grid
  local dg=$bin/driver-grid dir=$work/driverbuild n=8
  local headers=${FALCO_TEST_KERNEL_HEADERS:-target/test-kernel-headers}
  scripts/fetch-test-kernel-headers "$headers" >/dev/null
  mkdir -p "$dir/mirror"
  cp "$headers"/*.deb "$dir/mirror/"
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 -m http.server --bind 127.0.0.1 --directory "$dir/mirror" "$port" >"$dir/http.log" 2>&1 &
  local server=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done

  local arch_deb release urls=""
  arch_deb=$(cd "$dir/mirror" && ls linux-headers-*_amd64.deb | head -1)
  release=${arch_deb#linux-headers-}; release=${release%%_*}
  for deb in "$dir"/mirror/*.deb; do urls="$urls  - http://127.0.0.1:$port/$(basename "$deb")"$'\n'; done
  local configs=$dir/config/10.2.0+driver/x86_64
  mkdir -p "$configs"
  for v in $(seq $n); do
    printf 'kernelversion: "%s"\nkernelrelease: %s\ntarget: debian\narchitecture: amd64\noutput:\n  module: output/10.2.0+driver/x86_64/falco_debian_%s_%s.ko\nkernelurls:\n%s' \
      "$v" "$release" "$release" "$v" "$urls" >"$configs/debian_${release}_$v.yaml"
  done
  echo "driverbuild ($n configs, module only, headers $release; $(nproc) cores)"
  local src=crates/driver-grid/tests/data/driver
  local build=("$dg" build "$dir/config" --driver-source "$src" --quiet)
  measure "first run (download, unpack, build; 2 workers)" \
    "${build[@]}" --workers 2 --work "$dir/w1" --cache "$dir/cache" --output "$dir/o1"
  local first=$LAST_SECS
  measure "second run (downloads cached; 2 workers)" \
    "${build[@]}" --workers 2 --work "$dir/w2" --cache "$dir/cache" --output "$dir/o2"
  awk -v a="$first" -v b="$LAST_SECS" 'BEGIN { if (b > 0) printf "  first / cached: %.2fx\n", a / b }'
  # Other work on the machine takes cores from the 2-worker run: show how busy it was.
  echo "  load average before the 1-vs-2 runs: $(cut -d' ' -f1-3 /proc/loadavg)"
  measure "1 worker (kernel tree unpacked)" \
    "${build[@]}" --workers 1 --work "$dir/w2" --cache "$dir/cache" --output "$dir/o3"
  local one=$LAST_SECS
  measure "2 workers (kernel tree unpacked)" \
    "${build[@]}" --workers 2 --work "$dir/w2" --cache "$dir/cache" --output "$dir/o4"
  awk -v a="$one" -v b="$LAST_SECS" 'BEGIN { if (b > 0) printf "  1 worker / 2 workers: %.2fx (target >= 1.7)\n", a / b }'
  local built
  built=$(find "$dir/o4" -name '*.ko' | wc -l)
  echo "  $built modules in the last run's output"
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
