# Drivers Build Grid: load + validate + plan of 50,000 generated configs in the real layout
# (driverkit/config/<driverversion>/<arch>/*.yaml), against a listing of 100,000 published keys.
# No peer tool does this; the numbers are ours alone. Target: >= 25,000 configs/s on 2 cores.
# Then publishing 1,000 new drivers into a repository of 100,000 (issue 18): index bytes written
# at most 2 x (the changed version's site JSON + its new index entries), wall time at most half
# of 2.43 s, the site page under 100 KB whatever the count.
run_drivers() {
  build_examples falco-artifacts-driver-grid --features build,publish
  local dg=$bin/driver-grid dir=$work/drivers n=${BENCH_DRIVER_CONFIGS:-50000}
  mkdir -p "$dir"
  echo "drivers ($n configs, 2 driver versions x 2 arches, 2 outputs each)"

  # kernel-crawler list.json files, one per driver version, and the store listing: the outputs
  # of every other config are published, plus as many keys of older driver versions.
  awk -v n="$n" -v dir="$dir" 'BEGIN {
    split("ubuntu debian centos amazonlinux2 fedora flatcar", targets, " ")
    kconfig = ""; for (k = 0; k < 512; k++) kconfig = kconfig "Q09ORklH"
    for (v = 1; v <= 2; v++) {
      dv = (v == 1) ? "9.1.0+driver" : "10.2.0+driver"
      old = (v == 1) ? "8.0.0+driver" : "8.1.0+driver"
      list = dir "/list-" v ".json"
      printf "{" > list
      for (a = 1; a <= 2; a++) {
        arch = (a == 1) ? "x86_64" : "aarch64"
        printf "%s\"%s\": {\"Bench\": [", (a == 1 ? "" : ", "), arch > list
        per = n / 4
        for (i = 0; i < per; i++) {
          t = targets[(i % 6) + 1]
          kr = sprintf("5.%d.%d-%d-bench", 4 + (i % 11), i % 300, i)
          kv = (i % 3 == 0) ? sprintf("%d~20.04.1", i % 97) : sprintf("%d", i % 97)
          extra = (t == "flatcar") ? sprintf(", \"kernelconfigdata\": \"%s\"", kconfig) : ""
          printf "%s{\"kernelrelease\": \"%s\", \"kernelversion\": \"%s\", \"target\": \"%s\", \"headers\": [\"https://mirror.example.invalid/%s/linux-headers-%s.pkg\"]%s}", (i ? ", " : ""), kr, kv, t, t, kr, extra > list
          if (i % 2 == 0) {
            for (e = 1; e <= 2; e++) {
              ext = (e == 1) ? "ko" : "o"
              printf "driver/%s/%s/falco_%s_%s_%s.%s\n", dv, arch, t, kr, kv, ext > (dir "/existing.txt")
              printf "driver/%s/%s/falco_%s_%s_%s.%s\n", old, arch, t, kr, kv, ext > (dir "/existing.txt")
            }
          }
        }
        printf "]}" > list
      }
      printf "}\n" > list
      close(list)
    }
  }'
  measure "generate $n configs (list.json)" bash -c \
    "$dg generate $dir/list-1.json 9.1.0+driver $dir/driverkit/config && $dg generate $dir/list-2.json 10.2.0+driver $dir/driverkit/config"
  local files keys
  files=$(find "$dir/driverkit/config" -name '*.yaml' | wc -l)
  keys=$(wc -l <"$dir/existing.txt")
  echo "  $files config files, $keys keys in the listing"

  # The example prints its own summary on stderr; stdout (the plan table) is discarded.
  measure "load + validate + plan" "$dg" plan "$dir" --existing "$dir/existing.txt"
  awk -v f="$files" -v s="$LAST_SECS" 'BEGIN { if (s > 0) printf "  throughput: %.0f configs/s (wall, whole process; target >= 25000)\n", f / s }'
  # Wall time depends on what else runs on the machine; CPU time does not.
  /usr/bin/time -f '%U %S' -o "$work/cpu" "$dg" plan "$dir" --existing "$dir/existing.txt" >/dev/null 2>&1
  read -r user sys <"$work/cpu"
  awk -v f="$files" -v u="$user" -v s="$sys" 'BEGIN { if (u + s > 0) printf "  cpu: %.2f s user + %.2f s sys = %.0f configs per CPU-second\n", u, s, f / (u + s) }'
  measure "validate (--json report)" "$dg" validate "$dir" --json
  awk -v f="$files" -v s="$LAST_SECS" 'BEGIN { if (s > 0) printf "  throughput: %.0f configs/s\n", f / s }'
  echo "  store requests: the listing is a file here; from a store it is $(( (keys + 999) / 1000 )) listing pages of 1000 keys, no request per object"

  # The same plan against a real file:// repository holding those keys (empty files), listed
  # by the example itself.
  local repo=$dir/repo built=$dir/built/output/10.3.0+driver/x86_64 i
  mkdir -p "$repo" "$built"
  (cd "$repo" && sed 's|/[^/]*$||' "$dir/existing.txt" | sort -u | xargs -d '\n' mkdir -p \
    && xargs -d '\n' touch <"$dir/existing.txt")
  measure "plan --repo file:// ($keys objects)" "$dg" plan "$dir" --repo "file://$repo"

  # A repository of those 100,000 drivers as the grid leaves it: published through the
  # generic repository (its index lists them) with the drivers site written. Not timed.
  local seeded=$dir/seeded seed=$dir/seed/output
  mkdir -p "$seeded" "$seed"
  (cd "$seed" && sed -e 's|^driver/||' -e 's|/[^/]*$||' "$dir/existing.txt" | sort -u | xargs -d '\n' mkdir -p \
    && sed 's|^driver/||' "$dir/existing.txt" | xargs -d '\n' touch)
  local seed_start seed_end
  seed_start=$(date +%s)
  "$dg" publish "$dir/seed" --repo "file://$seeded" >/dev/null
  seed_end=$(date +%s)
  echo "  (seeded: $keys drivers published through the generic repository in $((seed_end - seed_start)) s)"

  # Publishing into it: 1,000 new drivers (4 KiB each) of a new driver version, then the same
  # again (all skipped after one listing). Bytes written for indexes: every file the publish
  # wrote except the drivers themselves and the lock.
  head -c 4096 /dev/urandom >"$dir/driver.bin"
  for i in $(seq 1 1000); do cp "$dir/driver.bin" "$built/falco_ubuntu_5.15.0-$i-bench_1.ko"; done
  touch "$work/marker"
  measure "publish 1000 new drivers" "$dg" publish "$dir/built" --repo "file://$seeded"
  local written site bucket
  written=$(find "$seeded/driver" -newer "$work/marker" -type f ! -name '*.ko' ! -name '*.o' ! -path '*/.publish/*' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
  site=$(stat -c %s "$seeded/driver/site/10.3.0+driver.json")
  bucket=$(python3 -c 'import json,sys,os; i=json.load(open(sys.argv[1])); b=[b for b in i["buckets"] if b["group"]=="10.3.0+driver"][0]; print(os.path.getsize(os.path.join(os.path.dirname(sys.argv[1]), b["key"])))' "$seeded/driver/index.json")
  echo "  index bytes written: $written (the changed version's site JSON: $site, its new index entries: $bucket; bound 2 x $((site + bucket)) = $((2 * (site + bucket))))"
  find "$seeded/driver" -newer "$work/marker" -type f ! -name '*.ko' ! -name '*.o' ! -path '*/.publish/*' -printf '    %s %P\n' | sort -k2
  measure "publish again (1000 skipped)" "$dg" publish "$dir/built" --repo "file://$seeded"
  "$dg" publish "$dir/built" --repo "file://$seeded" | sed 's/^/  /'
  echo "  site page: $(wc -c <"$seeded/driver/site/index.html") bytes of HTML for $(( keys + 1000 )) drivers (target < 100 KB whatever the count)"
  echo "  generic index top file: $(wc -c <"$seeded/driver/index.json") bytes; $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["buckets"]))' "$seeded/driver/index.json") buckets"
  echo "  store requests of the second publish: a listing of driver/10.3.0+driver/ (1 page of 1000 keys on S3) and of driver/site/, none per driver and none for the other $keys drivers"
}
