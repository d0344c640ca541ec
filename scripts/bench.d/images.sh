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
}
