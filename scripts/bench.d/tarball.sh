# The release tarball against `tar --sort=name ... | gzip -6` on the same >= 200 MB tree: one
# large binary-like file and thousands of small files.
run_tarball() {
  build_examples falco-artifacts-pkg-tar
  local tree=$work/tarball-tree size=0
  mkdir -p "$tree/usr/bin" "$tree/usr/share/falco"
  # Binary-like: real ELF files and libraries, concatenated up to 150 MiB.
  while [ "$size" -lt $((150 * 1024 * 1024)) ]; do
    for f in /usr/lib/x86_64-linux-gnu/*.so* /usr/bin/*; do
      [ -f "$f" ] && cat "$f"
    done >>"$tree/usr/bin/falco"
    size=$(stat -c %s "$tree/usr/bin/falco")
  done
  truncate -s $((150 * 1024 * 1024)) "$tree/usr/bin/falco"
  chmod 755 "$tree/usr/bin/falco"
  # 4000 small files (rules, plugins, docs): 4-40 KiB slices of text and binary.
  for i in $(seq 1 4000); do
    local dir="$tree/usr/share/falco/d$((i % 40))"
    mkdir -p "$dir"
    if [ $((i % 2)) -eq 0 ]; then
      # `head` closing the pipe early is expected here, not a failure.
      { tail -c +$((i * 7 + 1)) /usr/share/common-licenses/GPL-3; cat /usr/share/common-licenses/GPL-3; } \
        | head -c $((4096 + (i * 37) % 36864)) >"$dir/f$i.yaml" || true
    else
      tail -c +$((i * 15013 + 1)) "$tree/usr/bin/falco" | head -c $((4096 + (i * 37) % 36864)) >"$dir/f$i.so" || true
    fi
  done
  find "$tree" -type f -exec chmod go-w {} +
  local manifest=$work/tarball.yaml
  {
    printf 'name: falco\nversion: 0.39.0\narch: x86_64\nmaintainer: bench\ndescription: bench\nlicense: Apache-2.0\nsource_date: 1700000000\ncontents:\n'
    (cd "$tree" && find . -type f | sort) | while read -r f; do
      printf '  - { src: %s, dst: %s, mode: "%s" }\n' "$tree/${f#./}" "/${f#./}" "$(stat -c %a "$tree/$f")"
    done
  } >"$manifest"
  echo "tree: $(du -sm "$tree" | cut -f1) MiB in $(find "$tree" -type f | wc -l) files"
  mkdir -p "$work/tarball-out"
  compare "release tarball, gzip -6" \
    "falco-artifacts build-tarball" "$bin/build-tarball $manifest $work/tarball-out" \
    "tar --sort=name | gzip -6" "tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1700000000 -C $tree -cf - . | gzip -6 >$work/peer.tar.gz"
  local ours peer
  ours=$(stat -c %s "$work/tarball-out/falco-0.39.0-x86_64.tar.gz")
  peer=$(stat -c %s "$work/peer.tar.gz")
  awk -v o="$ours" -v p="$peer" 'BEGIN { printf "  size: ours %d bytes, peer %d bytes (%+.2f%%)\n", o, p, (o - p) * 100 / p }'
  rm -rf "$tree" "$work/tarball-out" "$work/peer.tar.gz"
}
