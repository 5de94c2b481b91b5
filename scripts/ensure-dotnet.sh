#!/usr/bin/env bash
# Makes sure the .NET 10 SDK is on PATH; installs it on Debian 12 if it is not. Sourced by the top-level scripts.
set -euo pipefail
if command -v dotnet >/dev/null 2>&1 && dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then
  return 0 2>/dev/null || exit 0
fi
echo "nasprune: installing the .NET 10 SDK" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ -r /etc/debian_version ]; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q ca-certificates curl libicu72 >/dev/null || $SUDO apt-get install -y -q ca-certificates curl
  # Microsoft's package feed for Debian 12 carries dotnet-sdk-10.0.
  if curl -fsSL https://packages.microsoft.com/config/debian/12/packages-microsoft-prod.deb -o /tmp/packages-microsoft-prod.deb; then
    $SUDO dpkg -i /tmp/packages-microsoft-prod.deb
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q dotnet-sdk-10.0 && { return 0 2>/dev/null || exit 0; }
  fi
fi
# Anywhere else: Microsoft's official install script into ~/.dotnet.
curl -fsSL https://dot.net/v1/dotnet-install.sh -o /tmp/dotnet-install.sh
bash /tmp/dotnet-install.sh --channel 10.0 --install-dir "$HOME/.dotnet"
export PATH="$HOME/.dotnet:$PATH" DOTNET_ROOT="$HOME/.dotnet"
