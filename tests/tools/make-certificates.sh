#!/usr/bin/env bash
# Makes the certificates the TLS tests use, with certtool (gnutls-bin), into
# DIR (once: DIR/.ready marks a finished set):
#   ca.pem ca-key.pem                   a root CA
#   intermediate.pem                    an intermediate CA under it
#   leaf.pem leaf-key.pem               localhost, 127.0.0.1 and ::1, signed by the root
#   chain.pem chain-key.pem             localhost under the intermediate, with the intermediate
#   chain-leaf-only.pem (and -key)      the same leaf without its intermediate
#   expired.pem not-yet-valid.pem wrong-host.pem (with *-key.pem)   signed by the root
#   self-signed.pem self-signed-key.pem localhost, its own issuer
#   rsa.pem rsa-key.pem                 localhost with an RSA 2048 key (the rest are ECDSA P-256)
#   fleet.pem fleet-key.pem             tls-peers.fleet.test (the fleet's peers name), 127.0.0.17
#                                       and 127.0.0.18, signed by the root
#   tests/tools/make-certificates.sh DIR
set -euo pipefail
dir=${1:?usage: make-certificates.sh DIR}
[ -f "$dir/.ready" ] && exit 0
command -v certtool >/dev/null || { echo "make-certificates: certtool (gnutls-bin) is missing" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"

key() { certtool --generate-privkey --key-type="${2:-ecdsa}" ${3:+--bits=$3} --outfile "$1" 2>/dev/null; }
template() { # NAME LINES...
  local name=$1
  shift
  printf '%s\n' "$@" >"$name.tmpl"
}

key ca-key.pem
template ca 'cn = "netdiag test root CA"' 'ca' 'cert_signing_key' 'expiration_days = 3650'
certtool --generate-self-signed --load-privkey ca-key.pem --template ca.tmpl --outfile ca.pem 2>/dev/null

key intermediate-key.pem
template intermediate 'cn = "netdiag test intermediate CA"' 'ca' 'cert_signing_key' \
  'expiration_days = 3650'
certtool --generate-certificate --load-privkey intermediate-key.pem --load-ca-certificate ca.pem \
  --load-ca-privkey ca-key.pem --template intermediate.tmpl --outfile intermediate.pem 2>/dev/null

server_lines=('tls_www_server' 'signing_key' 'encryption_key')
# leaf NAME ISSUER TEMPLATE-LINES...
leaf() {
  local name=$1 issuer=$2
  shift 2
  template "$name" "$@" "${server_lines[@]}"
  certtool --generate-certificate --load-privkey "$name-key.pem" --load-ca-certificate "$issuer.pem" \
    --load-ca-privkey "$issuer-key.pem" --template "$name.tmpl" --outfile "$name.pem" 2>/dev/null
}
localhost=('cn = "localhost"' 'dns_name = "localhost"' 'ip_address = "127.0.0.1"' 'ip_address = "::1"')

key leaf-key.pem
leaf leaf ca "${localhost[@]}" 'serial = 4660' 'expiration_days = 365'
key rsa-key.pem rsa 2048
leaf rsa ca "${localhost[@]}" 'expiration_days = 365'
key chain-key.pem
leaf chain intermediate "${localhost[@]}" 'expiration_days = 365'
cp chain.pem chain-leaf-only.pem
cp chain-key.pem chain-leaf-only-key.pem
cat intermediate.pem >>chain.pem
key expired-key.pem
leaf expired ca "${localhost[@]}" 'activation_date = "2020-01-01 00:00:00 UTC"' \
  'expiration_date = "2021-01-01 00:00:00 UTC"'
key not-yet-valid-key.pem
leaf not-yet-valid ca "${localhost[@]}" 'activation_date = "2099-01-01 00:00:00 UTC"' \
  'expiration_date = "2100-01-01 00:00:00 UTC"'
key wrong-host-key.pem
leaf wrong-host ca 'cn = "wrong.test"' 'dns_name = "wrong.test"' 'expiration_days = 365'
key fleet-key.pem
leaf fleet ca 'cn = "tls-peers.fleet.test"' 'dns_name = "tls-peers.fleet.test"' \
  'ip_address = "127.0.0.17"' 'ip_address = "127.0.0.18"' 'expiration_days = 365'
key self-signed-key.pem
template self-signed "${localhost[@]}" 'expiration_days = 365' "${server_lines[@]}"
certtool --generate-self-signed --load-privkey self-signed-key.pem --template self-signed.tmpl \
  --outfile self-signed.pem 2>/dev/null

rm -f ./*.tmpl
touch .ready
