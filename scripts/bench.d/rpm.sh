# The .rpm writer against `rpmbuild -bb` of an equivalent spec that installs the same files
# (a binary-like $mb MiB /usr/bin/falco plus the sample's configs and units), at gzip level 6
# and xz level 6. brp scripts, debuginfo and build-id links are off for rpmbuild: they would
# only add work ours does not do. Both outputs are checked with `rpm -K`. rpmbuild compresses on
# one thread with `wN.xzdio` (what `%_binary_payload` spells unless a `T` is added); the last
# row gives it every core (`w6T.xzdio`) for reference. Ours streams on every core.
run_rpm() {
  build_examples falco-artifacts-pkg-rpm
  local dir=$work/rpm src=$work/rpm/src size=0
  mkdir -p "$src/usr/bin" "$dir/top/SPECS"
  # Binary-like: real ELF files and libraries, concatenated up to $mb MiB.
  while [ "$size" -lt $((mb * 1024 * 1024)) ]; do
    for f in /usr/lib/x86_64-linux-gnu/*.so* /usr/bin/*; do
      [ -f "$f" ] && cat "$f"
    done >>"$src/usr/bin/falco"
    size=$(stat -c %s "$src/usr/bin/falco")
  done
  truncate -s $((mb * 1024 * 1024)) "$src/usr/bin/falco"
  chmod 755 "$src/usr/bin/falco"
  cp -r examples/sample/payload/etc examples/sample/payload/systemd "$src/"
  sed -e "s|src: payload/usr/bin/falco|src: $src/usr/bin/falco|" -e "s|src: payload/|src: $src/|" \
    -e "s|scripts/post|$PWD/examples/sample/scripts/post|; s|scripts/pre|$PWD/examples/sample/scripts/pre|" \
    examples/sample/falco.yaml >"$dir/falco.yaml"
  cat >"$dir/top/SPECS/falco.spec" <<SPEC
Name: falco
Version: 0.39.0
Release: 1
Summary: Falco - Cloud Native Runtime Security
License: Apache-2.0
Requires: systemd
%description
Falco bench payload.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc/falco %{buildroot}/usr/lib/systemd/system %{buildroot}/usr/share/falco/plugins
cp -p $src/usr/bin/falco %{buildroot}/usr/bin/falco
cp -p $src/etc/falco/*.yaml %{buildroot}/etc/falco/
cp -p $src/systemd/*.service %{buildroot}/usr/lib/systemd/system/
ln -s falco %{buildroot}/usr/bin/falco-driver-loader
%post -f $PWD/examples/sample/scripts/postinst
%preun -f $PWD/examples/sample/scripts/prerm
%postun -f $PWD/examples/sample/scripts/postrm
%files
%attr(0755,root,root) /usr/bin/falco
/usr/bin/falco-driver-loader
%config(noreplace) /etc/falco/falco.yaml
%config(noreplace) /etc/falco/falco_rules.local.yaml
/etc/falco/falco_rules.yaml
/usr/lib/systemd/system/*.service
%dir /usr/share/falco/plugins
SPEC
  # rpm's %post -f reads the script from a file relative to the build dir; absolute works.
  echo "payload: $(du -sm "$src" | cut -f1) MiB, binary-like; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "$(rpm --version), %_binary_payload: $(rpm --eval '%{?_binary_payload}%{!?_binary_payload:(undefined)}')"
  local name peer_opts ours_opts
  # BENCH_RPM_CODECS picks rows (xz at 256 MiB takes minutes per tool on 2 cores).
  for name in ${BENCH_RPM_CODECS:-gzip xz xz-peer-threads}; do
    case $name in
      gzip) peer_opts="w6.gzdio"; ours_opts="--compression gzip --level 6" ;;
      xz) peer_opts="w6.xzdio"; ours_opts="--compression xz --level 6" ;;
      xz-peer-threads) peer_opts="w6T.xzdio"; ours_opts="--compression xz --level 6" ;;
    esac
    rm -rf "$dir/out" "$dir/top/RPMS" "$dir/top/BUILDROOT"
    mkdir -p "$dir/out"
    compare ".rpm, $name level 6 (peer $peer_opts; ours streamed, $(nproc) threads)" \
      "falco-artifacts build-rpm" \
      "$bin/build-rpm $dir/falco.yaml $dir/out --version 0.39.0 --arch x86_64 --source-date 1700000000 $ours_opts" \
      "rpmbuild -bb" \
      "SOURCE_DATE_EPOCH=1700000000 rpmbuild -bb --quiet --define '_topdir $dir/top' --define '_binary_payload $peer_opts' --define '__os_install_post %{nil}' --define 'debug_package %{nil}' --define '_build_id_links none' $dir/top/SPECS/falco.spec"
    local ours=$dir/out/falco-0.39.0-x86_64.rpm peer=$dir/top/RPMS/x86_64/falco-0.39.0-1.x86_64.rpm
    awk -v o="$(stat -c %s "$ours")" -v p="$(stat -c %s "$peer")" \
      'BEGIN { printf "  size: ours %d bytes, peer %d bytes (%+.2f%%)\n", o, p, (o - p) * 100 / p }'
    rpm -K --nosignature "$ours" "$peer" | sed 's/^/  rpm -K: /'
  done
  rm -rf "$dir"
}
