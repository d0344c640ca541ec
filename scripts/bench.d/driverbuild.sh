# Drivers Build Grid, real builds of Falco's driver: Debian's falcosecurity-scap-dkms (module
# scap + its legacy probe) against Debian's kernel headers served on loopback HTTP, with the
# local backend. The floor is Falco's own Makefiles run by hand on the same unpacked kernel
# tree (make -C <tree> M=<copy> modules + strip -g + make -C <copy>/bpf): our per-build
# overhead (download from cache, unpack, copy, rename, publish) is what is left, target at most
# 10% of the bare make time. Then the second driver version of the same kernel (no download,
# no unpack), and builds per hour with 1 and 2 workers.
run_driverbuild() {
  build_examples falco-artifacts-driver-grid --features build,publish
  local dg=$bin/driver-grid dir=$work/driverbuild
  local headers=${FALCO_TEST_KERNEL_HEADERS:-target/test-kernel-headers}
  local sources=${FALCO_TEST_DRIVER_SOURCE:-target/test-driver-source}
  scripts/fetch-test-kernel-headers "$headers" >/dev/null
  scripts/fetch-test-driver-source "$sources" >/dev/null
  mkdir -p "$dir/mirror" "$dir/dkms"
  cp "$headers"/*.deb "$dir/mirror/"
  local dkms_debs=("$sources"/falcosecurity-scap-dkms_*.deb)
  dpkg-deb -x "${dkms_debs[0]}" "$dir/dkms"
  local trees=("$dir"/dkms/usr/src/scap-*)
  local src=${trees[0]}
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 -m http.server --bind 127.0.0.1 --directory "$dir/mirror" "$port" >"$dir/http.log" 2>&1 &
  local server=$!
  bench_pids+=("$server")
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done

  local arch_deb release urls=""
  local header_debs=("$dir"/mirror/linux-headers-*_amd64.deb)
  arch_deb=$(basename "${header_debs[0]}")
  release=${arch_deb#linux-headers-}; release=${release%%_*}
  for deb in "$dir"/mirror/*.deb; do urls="$urls  - http://127.0.0.1:$port/$(basename "$deb")"$'\n'; done
  # config DIR DV VERSION: one module + probe config.
  config() {
    mkdir -p "$1/$2/x86_64"
    printf 'kernelversion: "%s"\nkernelrelease: %s\ntarget: debian\narchitecture: amd64\noutput:\n  module: output/%s/x86_64/falco_debian_%s_%s.ko\n  probe: output/%s/x86_64/falco_debian_%s_%s.o\nkernelurls:\n%s' \
      "$3" "$release" "$2" "$release" "$3" "$2" "$release" "$3" "$urls" >"$1/$2/x86_64/debian_${release}_$3.yaml"
  }
  config "$dir/one" 9.0.0+driver 1
  config "$dir/two" 8.0.0+driver 1
  for v in 1 2 3 4; do config "$dir/grid" 9.0.0+driver "$v"; done
  echo "driverbuild (falcosecurity-scap-dkms module + probe, headers $release; $(nproc) cores)"
  echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  local build=("$dg" build --driver-source "$src" --quiet --workers 1 --cache "$dir/cache")
  local site="file://$dir/site"

  # Ours, cold: download, unpack, module, strip, probe, install, publish.
  measure "ours: 1 build, cold (download+unpack)" \
    "${build[@]}" "$dir/one" --work "$dir/w" --output "$dir/o1" --repo "$site"
  local cold=$LAST_SECS
  # The floor, on the tree that run unpacked.
  local tree
  tree=$(cat "$dir"/w/kernels/*/complete | head -1)
  rm -rf "$dir/bare"; cp -r "$src" "$dir/bare"
  measure "bare: make module + strip + make bpf" bash -c \
    "make -s -C '$tree' M='$dir/bare' modules >/dev/null 2>&1 && strip -g '$dir/bare/scap.ko' \
     && make -s -C '$dir/bare/bpf' KERNELDIR='$tree' >/dev/null 2>&1"
  local bare=$LAST_SECS
  # Ours, warm: same kernel, another driver version (cached download, shared tree).
  measure "ours: 2nd driver version, same kernel" \
    "${build[@]}" "$dir/two" --work "$dir/w" --output "$dir/o2" --repo "$site"
  local warm=$LAST_SECS
  awk -v c="$cold" -v w="$warm" -v b="$bare" 'BEGIN {
    printf "  overhead over bare make: cold %.1f s (%.0f%%), warm %.1f s (%.0f%%; target <= 10%%)\n",
      c - b, 100 * (c - b) / b, w - b, 100 * (w - b) / b }'
  grep -q "reusing the kernel tree" "$dir"/w/logs/8.0.0+driver/x86_64/*.log \
    && ! grep -q "^unpacked " "$dir"/w/logs/8.0.0+driver/x86_64/*.log \
    && echo "  2nd driver version: downloads cached, kernel tree reused (no unpack)"

  echo "  load average before the 1-vs-2 runs: $(cut -d' ' -f1-3 /proc/loadavg)"
  measure "4 builds, 1 worker (tree unpacked)" \
    "$dg" build "$dir/grid" --driver-source "$src" --quiet --workers 1 --cache "$dir/cache" \
    --work "$dir/w" --output "$dir/o3"
  local one=$LAST_SECS
  measure "4 builds, 2 workers (tree unpacked)" \
    "$dg" build "$dir/grid" --driver-source "$src" --quiet --workers 2 --cache "$dir/cache" \
    --work "$dir/w" --output "$dir/o4"
  awk -v a="$one" -v b="$LAST_SECS" 'BEGIN {
    printf "  builds per hour: %.0f with 1 worker, %.0f with 2 workers (%.2fx)\n", 4 * 3600 / a, 4 * 3600 / b, a / b }'
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
