# The APT repository on file:// with BENCH_DEBS (default 10000) small generated .debs:
# - publishing every package into an empty store (ours: upload, index, sign) vs copying the
#   pool and running `apt-ftparchive packages` + `apt-ftparchive release`;
# - a full index build over a pool already in place, vs the same apt-ftparchive run;
# - adding one package: ours (incremental) vs what Falco's script does today (apt-ftparchive
#   over the whole pool plus release) and vs `reprepro includedeb` (an incremental peer).
run_publish() {
  build_examples falco-artifacts-publish
  need apt-ftparchive apt-utils
  need reprepro reprepro
  local n=${BENCH_DEBS:-10000}
  local debs=$work/apt-debs extra=$work/apt-extra site=$work/apt-site peer=$work/apt-peer rr=$work/reprepro
  "$bin/apt-bench" generate "$debs" "$n"
  "$bin/apt-bench" generate "$extra/a" 1 $((n + 1))
  "$bin/apt-bench" generate "$extra/b" 1 $((n + 2))
  local one two
  one=$(ls "$extra"/a/*.deb)
  two=$(ls "$extra"/b/*.deb)
  echo "input: $n generated .debs, $(du -sm "$debs" | cut -f1) MiB"

  mkdir -p "$peer/pool" "$peer/dists/stable/main/binary-amd64"
  local ftp_index="cd $peer && apt-ftparchive packages pool >dists/stable/main/binary-amd64/Packages \
    && gzip -6kf dists/stable/main/binary-amd64/Packages \
    && apt-ftparchive release dists/stable >dists/stable/Release.new && mv dists/stable/Release.new dists/stable/Release"
  # From an empty store: ours uploads every package (create-if-absent, fsync) and indexes;
  # the peer copies the pool and indexes it.
  compare "APT repository, publish $n packages into an empty store" \
    "falco-artifacts apt-bench publish" "$bin/apt-bench publish $work/apt-empty $debs" \
    "cp + apt-ftparchive packages + release" "cp $debs/*.deb $peer/pool/ && $ftp_index"
  rm -rf "$work/apt-empty"
  # The pool already in place, the index built from scratch: ours checks every pool file's
  # digest against the package and builds, compresses and signs the index.
  mkdir -p "$site/packages/deb/stable"
  cp "$debs"/*.deb "$site/packages/deb/stable/"
  compare "APT repository, full index build of $n packages in place" \
    "falco-artifacts apt-bench publish" "$bin/apt-bench publish $site $debs" \
    "apt-ftparchive packages + release" "$ftp_index"

  compare "APT repository, add one package to $n" \
    "falco-artifacts apt-bench add" "$bin/apt-bench add $site $one >$work/apt-add.out" \
    "apt-ftparchive over the pool (today)" "cp $one $peer/pool/ && $ftp_index"
  echo "  ours: $(cat "$work/apt-add.out")"

  mkdir -p "$rr/conf"
  printf 'Codename: stable\nSuite: stable\nComponents: main\nArchitectures: amd64\n' >"$rr/conf/distributions"
  find "$debs" -name '*.deb' -print0 | xargs -0 -n 500 reprepro -b "$rr" -S utils -P optional --silent includedeb stable >/dev/null 2>&1
  compare "APT repository, add one package to $n (incremental peer)" \
    "falco-artifacts apt-bench add" "$bin/apt-bench add $site $two" \
    "reprepro includedeb" "reprepro -b $rr -S utils -P optional --silent includedeb stable $two"
  rm -rf "$debs" "$extra" "$site" "$peer" "$rr" "$work/apt-add.out"
}
