# Container images: build a FROM-scratch image from a release tarball holding 200 MiB of
# incompressible data, push it to a docker-registry, then push it again unchanged; the same
# two pushes with the `docker push` CLI to a second registry. dockerd and docker-registry are
# started by the example through testkit (root needed) on loopback. Prints wall times, the
# bytes each registry read during each push, the second/first ratio, and the example's peak
# RSS (the tarball, the build context and the layer are streamed, never held whole).
run_images() {
  build_examples falco-artifacts-images
  local payload=$work/images-payload.bin
  head -c $((200 * 1024 * 1024)) /dev/urandom >"$payload"
  echo "container image: 200 MiB /usr/bin/falco (random bytes), FROM scratch"
  /usr/bin/time -f '%M' -o "$work/time" "$bin/push-bench" "$payload"
  echo "  push-bench peak RSS (tarball + build + 4 pushes): $(cat "$work/time") KiB"
  rm -f "$payload"
  run_images_runtime
}

# The `falco` runtime image from the ~10 Debian packages of its closure (libc6, libstdc++6,
# libgcc-s1, zlib1g, ca-certificates and their dependencies, fetched by
# scripts/fetch-test-image-debs) plus a 50 MiB /usr/bin/falco, against `dpkg-deb -x` of the same
# packages and `docker build` of a FROM-scratch image of that tree; then the push and an
# unchanged re-push of ours (no blob may be uploaded). Runs with `scripts/bench images`.
run_images_runtime() {
  build_examples falco-artifacts-images
  scripts/fetch-test-image-debs >/dev/null
  local debs=$work/runtime-debs
  mkdir -p "$debs"
  local p
  for p in libc6 libstdc++6 libgcc-s1 gcc-12-base zlib1g ca-certificates openssl libssl3 debconf; do
    cp target/test-image-debs/"${p}"_*.deb "$debs/"
  done
  local payload=$work/runtime-payload.bin
  head -c $((50 * 1024 * 1024)) /dev/urandom >"$payload"
  echo "runtime image: $(find "$debs" -mindepth 1 -maxdepth 1 | wc -l) .debs + 50 MiB /usr/bin/falco (random bytes)"
  /usr/bin/time -f '%M' -o "$work/time" "$bin/runtime-bench" "$debs" "$payload"
  echo "  runtime-bench peak RSS: $(cat "$work/time") KiB"
  rm -rf "$payload" "$debs"
}
