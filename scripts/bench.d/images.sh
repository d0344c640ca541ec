# Container images: build a FROM-scratch image from a release tarball holding 200 MiB of
# incompressible data, push it to a docker-registry, then push it again unchanged; the same
# two pushes with the `docker push` CLI to a second registry. dockerd and docker-registry are
# started by the example through testkit (root needed) on loopback. Prints wall times, the
# bytes each registry read during each push, and the second/first ratio.
run_images() {
  build_examples falco-artifacts-images
  local payload=$work/images-payload.bin
  head -c $((200 * 1024 * 1024)) /dev/urandom >"$payload"
  echo "container image: 200 MiB /usr/bin/falco (random bytes), FROM scratch"
  "$bin/push-bench" "$payload"
  rm -f "$payload"
}
