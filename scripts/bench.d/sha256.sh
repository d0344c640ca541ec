# Streaming SHA-256 of one file against coreutils sha256sum.
run_sha256() {
  need_input
  build_examples falco-artifacts-core
  compare "sha256 (streaming digest)" \
    "falco-artifacts sha256" "$bin/sha256 $input" \
    "sha256sum (coreutils)" "sha256sum $input"
}
