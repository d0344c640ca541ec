# Sourced by scripts that install Debian packages: one way to call apt-get, as root or
# through sudo, non-interactive, with the package lists refreshed first (a fresh CI machine
# or container has none, and stale lists name versions the mirror no longer has).
# shellcheck shell=bash

apt_sudo=()
[ "$(id -u)" -eq 0 ] || apt_sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive

# apt_install PACKAGE...: installs the packages without recommends.
apt_install() {
  "${apt_sudo[@]}" apt-get update -qq
  "${apt_sudo[@]}" apt-get install -y -qq --no-install-recommends "$@"
}

# need COMMAND PACKAGE: installs PACKAGE unless COMMAND is on PATH already.
need() {
  command -v "$1" >/dev/null 2>&1 || apt_install "$2" >/dev/null
}
