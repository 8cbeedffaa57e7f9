#!/usr/bin/env bash
# Installs the Debian packages the tests use, when running as root and a tool is
# missing. Otherwise it only says what is missing: the tests that need it then
# report themselves as skipped with the package named. Always exits 0.
set -u

# command  package
TOOLS="
coap-client-notls libcoap3-bin
coap-server-notls libcoap3-bin
coap-client-gnutls libcoap3-bin
coap-server-openssl libcoap3-bin
openssl openssl
/usr/lib/x86_64-linux-gnu/libssl.so.3 libssl3
wasm2c wabt
riscv64-unknown-elf-gcc gcc-riscv64-unknown-elf
qemu-system-riscv32 qemu-system-misc
/usr/lib/picolibc/riscv64-unknown-elf/picolibc.specs picolibc-riscv64-unknown-elf
tshark tshark
"

missing_packages=()
declare -A missing_tools # package → the missing commands it provides, for the message
while read -r command package; do
  [ -z "$command" ] && continue
  # A path names a file a package installs (picolibc has no command); anything else is a command.
  case "$command" in
    /*) [ -e "$command" ] && continue ;;
    *) command -v "$command" >/dev/null 2>&1 && continue ;;
  esac
  case " ${missing_packages[*]-} " in *" $package "*) ;; *) missing_packages+=("$package") ;; esac
  missing_tools[$package]="${missing_tools[$package]-}${missing_tools[$package]:+, }${command##*/}"
done <<<"$TOOLS"

[ ${#missing_packages[@]} -eq 0 ] && exit 0

if [ "$EUID" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing_packages[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  # tshark's wireshark-common asks whether non-root users may capture; the tests only read files.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null
  if apt-get update -qq >/dev/null 2>&1 &&
    apt-get install -y -qq --no-install-recommends "${missing_packages[@]}" >/dev/null 2>&1; then
    exit 0
  fi
  echo "apt-get could not install ${missing_packages[*]}"
fi
for package in "${missing_packages[@]}"; do
  echo "missing: ${missing_tools[$package]} (apt package $package); tests that need it will be skipped"
done
exit 0
