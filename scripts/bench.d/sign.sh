# A detached armored SHA-256 signature against gpg --detach-sign.
run_sign() {
  need_input
  build_examples falco-artifacts-core
  mkdir -m 700 "$work/gnupg"
  "$bin/sign" --generate "$work/key.asc"
  gpg --homedir "$work/gnupg" --batch --quiet --import "$work/key.asc"
  compare "detached signature (SHA-256, Ed25519)" \
    "falco-artifacts sign" "$bin/sign $work/key.asc $input" \
    "gpg --detach-sign --armor" "gpg --homedir $work/gnupg --batch --yes --digest-algo SHA256 --armor --detach-sign -o $input.gpg.asc $input"
  # A benchmark of a signature gpg rejects measures nothing: fail the run, with gpg's reason.
  if ! gpg --homedir "$work/gnupg" --batch --quiet --verify "$input.asc" "$input" 2>"$work/verify.log"; then
    echo "  gpg rejected our signature:" >&2
    cat "$work/verify.log" >&2
    return 1
  fi
  echo "  (gpg verified our signature)"
}
