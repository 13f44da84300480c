#!/usr/bin/env bash
# Installs the Debian packages the project needs: LibreOffice (office rendering), bubblewrap
# (the sandbox), fonts metric-compatible with Office's, poppler-utils (the render benchmark's
# baseline), Chromium (the tests look at report.html in it, headless). Skips everything when
# all are already there.
set -euo pipefail

packages=(bubblewrap libreoffice-writer libreoffice-calc libreoffice-impress
          fonts-liberation2 fonts-crosextra-carlito fonts-crosextra-caladea fonts-dejavu-core
          poppler-utils fontconfig chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"
else
  echo "warning: cannot install Debian packages without root: ${missing[*]}" >&2
  echo "         run: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "warning: no apt-get here; install these by hand: ${missing[*]}" >&2
  exit 0
fi
echo "installing Debian packages: ${missing[*]}" >&2
$sudo apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
