# Building a .deb against `dpkg-deb -b` on the same tree: gzip -6, xz -6, zstd -3, output
# sizes side by side, and peak RSS for a 1 GiB payload.
#
# Payload: one binary-like file (the machine's own ELF executables and libraries, concatenated
# to size, so it compresses like a real build of Falco) plus thousands of small text files
# (source code shipped by the system), BENCH_MB MiB in all. BENCH_DEB_RSS_MB sets the size of
# the RSS run (default 1024; 4 x BENCH_MB for quick runs below 200 MiB).

# deb_payload ROOT MB: fills ROOT/usr with MB MiB of payload.
deb_payload() {
  local root=$1 mb=$2
  local small_mb=$(( mb / 10 > 24 ? 24 : (mb / 10 < 2 ? 2 : mb / 10) ))
  local big_bytes=$(( (mb - small_mb) * 1024 * 1024 ))
  mkdir -p "$root/usr/bin" "$root/usr/share/falco-bench"
  local big="$root/usr/bin/falco-bench"
  local -a elves
  mapfile -t elves < <(find /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/bin /usr/libexec \
    -type f -size +100k \( -name '*.so*' -o -perm -u+x \) 2>/dev/null | LC_ALL=C sort)
  : >"$big"
  while [ "$(stat -c %s "$big")" -lt "$big_bytes" ]; do
    cat "${elves[@]}" >>"$big"
  done
  truncate -s "$big_bytes" "$big"
  chmod 0755 "$big"
  # Small files: 4 KiB pieces of the system's Perl and Python sources, 16 directories.
  local blob="$work/small.blob"
  : >"$blob"
  while [ "$(stat -c %s "$blob")" -lt $(( small_mb * 1024 * 1024 )) ]; do
    find /usr/share/perl5 /usr/lib/python3* -type f \( -name '*.pm' -o -name '*.py' \) 2>/dev/null \
      | LC_ALL=C sort | sed -n 1,4000p | xargs cat >>"$blob"
  done
  truncate -s $(( small_mb * 1024 * 1024 )) "$blob"
  local per_dir=$(( small_mb * 1024 * 1024 / 16 ))
  for d in $(seq -w 0 15); do
    mkdir -p "$root/usr/share/falco-bench/d$d"
    dd if="$blob" bs=4096 skip=$(( 10#$d * per_dir / 4096 )) count=$(( per_dir / 4096 )) status=none \
      | (cd "$root/usr/share/falco-bench/d$d" && split -a 3 -b 4096 - f)
  done
  rm -f "$blob"
}

# deb_inputs NAME MB: a payload tree with DEBIAN/control for dpkg-deb, and the same files as
# a manifest for ours. Sets DEB_TREE and DEB_MANIFEST.
deb_inputs() {
  local name=$1 mb=$2
  DEB_TREE="$work/$name-tree"
  DEB_MANIFEST="$work/$name.yaml"
  deb_payload "$DEB_TREE" "$mb"
  mkdir -p "$DEB_TREE/DEBIAN"
  cat >"$DEB_TREE/DEBIAN/control" <<EOF
Package: falco-bench
Version: 1.0.0
Architecture: amd64
Maintainer: Bench <bench@example.invalid>
Description: benchmark payload
 One binary-like file and thousands of small files.
EOF
  {
    printf 'name: falco-bench\nversion: 1.0.0\narch: x86_64\nmaintainer: Bench <bench@example.invalid>\n'
    printf 'description: |\n  benchmark payload\n  One binary-like file and thousands of small files.\n'
    printf 'license: Apache-2.0\ncontents:\n'
    (cd "$DEB_TREE" && find usr -type f | LC_ALL=C sort) | awk -v root="$DEB_TREE" '{
      printf "  - src: %s/%s\n    dst: /%s\n", root, $0, $0
      if ($0 == "usr/bin/falco-bench") printf "    mode: \"0755\"\n"
    }'
  } >"$DEB_MANIFEST"
  local files
  files=$(find "$DEB_TREE/usr" -type f | wc -l)
  echo "deb payload '$name': $(du -sm "$DEB_TREE/usr" | cut -f1) MiB in $files files"
}

# deb_compare LABEL CODEC LEVEL [md5sums]: ours against dpkg-deb on DEB_TREE / DEB_MANIFEST.
# With `md5sums`, the peer also writes DEBIAN/md5sums first, as dh_md5sums does before
# dpkg-deb in a real packaging run, so both sides produce a package with the same content;
# without it dpkg-deb packs no md5sums at all while ours always computes them.
deb_compare() {
  local label=$1 codec=$2 level=$3 with=${4:-}
  local ours="$work/ours-$codec" peer="$work/peer-$codec.deb"
  rm -rf "$ours" "$peer"
  mkdir -p "$ours"
  # The machine may be shared: the load says how much the wall times can be trusted.
  echo "  (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
  local peer_label="dpkg-deb -Z$codec -z$level -b" peer_cmd=""
  rm -f "$DEB_TREE/DEBIAN/md5sums"
  if [ "$with" = md5sums ]; then
    peer_label="md5sum + dpkg-deb -Z$codec -z$level -b"
    peer_cmd="(cd $DEB_TREE && find usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum >DEBIAN/md5sums) && "
  fi
  compare "$label" \
    "falco-artifacts build-deb" \
    "$bin/build-deb $DEB_MANIFEST $ours --compression $codec --level $level" \
    "$peer_label" \
    "${peer_cmd}dpkg-deb --root-owner-group -Z$codec -z$level -b $DEB_TREE $peer"
  rm -f "$DEB_TREE/DEBIAN/md5sums"
  local ours_deb
  ours_deb=$(ls "$ours"/*.deb)
  dpkg-deb --info "$ours_deb" >/dev/null
  local os ps
  os=$(stat -c %s "$ours_deb")
  ps=$(stat -c %s "$peer")
  awk -v o="$os" -v p="$ps" 'BEGIN { printf "  size: ours %d bytes, dpkg-deb %d bytes (ours/peer %.4f)\n", o, p, o / p }'
  rm -rf "$ours" "$peer"
}

run_deb() {
  export SOURCE_DATE_EPOCH=1700000000
  cargo build -q --release -p falco-artifacts-pkg-deb --example build-deb
  deb_inputs main "$mb"
  deb_compare "deb gzip -6 (${mb} MiB)" gzip 6
  deb_compare "deb xz -6 (${mb} MiB)" xz 6
  deb_compare "deb zstd -3 (${mb} MiB)" zstd 3
  deb_compare "deb zstd -3 (${mb} MiB), both with md5sums" zstd 3 md5sums
  rm -rf "$DEB_TREE"

  local rss_mb=${BENCH_DEB_RSS_MB:-$(( mb >= 200 ? 1024 : mb * 4 ))}
  deb_inputs rss "$rss_mb"
  deb_compare "deb gzip -6, peak RSS (${rss_mb} MiB)" gzip 6
  rm -rf "$DEB_TREE"
}
