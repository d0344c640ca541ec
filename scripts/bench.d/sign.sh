# A detached armored SHA-256 signature against gpg --detach-sign.
run_sign() {
  build_examples falco-artifacts-core
  mkdir -m 700 "$work/gnupg"
  "$bin/sign" --generate "$work/key.asc"
  gpg --homedir "$work/gnupg" --batch --quiet --import "$work/key.asc"
  compare "detached signature (SHA-256, Ed25519)" \
    "falco-artifacts sign" "$bin/sign $work/key.asc $input" \
    "gpg --detach-sign --armor" "gpg --homedir $work/gnupg --batch --yes --digest-algo SHA256 --armor --detach-sign -o $input.gpg.asc $input"
  gpg --homedir "$work/gnupg" --batch --quiet --verify "$input.asc" "$input" 2>/dev/null \
    && echo "  (gpg verified our signature)"
}
