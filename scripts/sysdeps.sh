#!/usr/bin/env bash
# Install the Debian packages paircert needs, when they are missing.
# As root this runs apt-get; otherwise it prints the exact command to run and fails.
set -euo pipefail

present() {
    case "$1" in
        libzbar0) ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0' ;;
        mosquitto) command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto ;;
        chromium) command -v chromium >/dev/null 2>&1 ;;
        iproute2) command -v ip >/dev/null 2>&1 ;;
        tcpdump) command -v tcpdump >/dev/null 2>&1 || test -x /usr/bin/tcpdump ;;
        wrk) command -v wrk >/dev/null 2>&1 ;;
        *) dpkg -s "$1" >/dev/null 2>&1 ;;
    esac
}

missing=()
for pkg in "$@"; do
    present "$pkg" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "paircert needs the system package(s): ${missing[*]}" >&2
    echo "Install them with:  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "Installing system package(s): ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for pkg in "${missing[@]}"; do
    present "$pkg" || { echo "apt-get installed $pkg but it is still not usable" >&2; exit 1; }
done
