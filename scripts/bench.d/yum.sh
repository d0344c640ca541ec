# The YUM repository on file:// with BENCH_RPMS (default 5000) small generated, signed .rpms:
# - a full metadata build over packages already in place vs `createrepo_c --no-database`
#   (we write no sqlite databases either);
# - adding one package: ours (incremental: reads the live metadata, never the other packages)
#   vs `createrepo_c --update` on the same tree.
run_yum() {
  build_examples falco-artifacts-publish
  need createrepo_c createrepo-c
  local n=${BENCH_RPMS:-5000}
  local rpms=$work/yum-rpms extra=$work/yum-extra site=$work/yum-site peer=$work/yum-peer
  "$bin/yum-bench" generate "$rpms" "$n"
  "$bin/yum-bench" generate "$extra/a" 1 $((n + 1))
  local one
  one=$(ls "$extra"/a/*.rpm)
  echo "input: $n generated .rpms, $(du -sm "$rpms" | cut -f1) MiB"

  mkdir -p "$site/packages/rpm" "$peer"
  cp "$rpms"/*.rpm "$site/packages/rpm/"
  cp "$rpms"/*.rpm "$peer/"
  compare "YUM repository, full metadata build of $n packages in place" \
    "falco-artifacts yum-bench publish" "$bin/yum-bench publish $site $rpms" \
    "createrepo_c --no-database" "createrepo_c -q --no-database $peer"

  compare "YUM repository, add one package to $n" \
    "falco-artifacts yum-bench add" "$bin/yum-bench add $site $one >$work/yum-add.out" \
    "createrepo_c --update" "cp $one $peer/ && createrepo_c -q --no-database --update $peer"
  echo "  ours: $(cat "$work/yum-add.out")"
  rm -rf "$rpms" "$extra" "$site" "$peer" "$work/yum-add.out"
}
