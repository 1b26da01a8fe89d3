#!/usr/bin/env bash
# Installs what WebGPU without a GPU needs on Debian/Ubuntu: the `chromium` package (a browser for
# the end-to-end test of examples/browser, and SwiftShader's Vulkan driver with its ICD manifest)
# and the Vulkan loader libvulkan1 (which Dawn, the npm package `webgpu`, loads). Idempotent: does
# nothing when both are present. Then point Dawn at SwiftShader with
#   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
set -euo pipefail

ICD=/usr/lib/chromium/vk_swiftshader_icd.json
CHROMIUM=/usr/bin/chromium

has_libvulkan() {
  if command -v ldconfig >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then return 0; fi
  local d
  for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /lib/x86_64-linux-gnu /lib/aarch64-linux-gnu; do
    [ -e "$d/libvulkan.so.1" ] && return 0
  done
  return 1
}

ready() { [ -f "$ICD" ] && [ -x "$CHROMIUM" ] && has_libvulkan; }

if ready; then
  echo "setup-webgpu: chromium, SwiftShader ($ICD) and libvulkan.so.1 are already installed"
  exit 0
fi

die() {
  echo "setup-webgpu: $*" >&2
  echo "setup-webgpu: install them by hand: apt-get install --no-install-recommends chromium libvulkan1" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || die "cannot install chromium and libvulkan1: apt-get not found (this script knows Debian and Ubuntu only)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "not root and sudo is not available"
  SUDO="sudo -n"
fi

echo "setup-webgpu: installing chromium and libvulkan1 with apt-get"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q || die "apt-get update failed"
$SUDO apt-get install -y -q --no-install-recommends chromium libvulkan1 || die "apt-get install chromium libvulkan1 failed"

ready || die "installed chromium and libvulkan1, but $ICD, $CHROMIUM or libvulkan.so.1 is still missing"
echo "setup-webgpu: ready (VK_ICD_FILENAMES=$ICD)"
