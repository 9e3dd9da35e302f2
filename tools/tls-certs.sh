#!/usr/bin/env bash
# Makes the certificates of mutual TLS on node links (recflow node/batch/stream --tls-cert,
# --tls-key, --tls-ca): a CA kept for recflow alone, and one certificate per node and
# driver, signed by it. Every certificate serves both ends of a link (a node accepts
# drivers and connects to its peer nodes with the same one). Usage:
#   tools/tls-certs.sh DIR NAME [NAME...]
# writes DIR/ca.pem and DIR/ca-key.pem (made once, reused on later calls so that more
# names can be added), and DIR/NAME.pem, DIR/NAME-key.pem for each NAME. Keys are made
# with mode 0600; copy each NAME's two files and ca.pem to its machine, never ca-key.pem.
# Any certificate this CA signed is accepted by every node (CAF 0.17 checks the chain, not
# the host name): do not sign anything else with it. Environment: DAYS (default 825).
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 DIR NAME [NAME...]   (e.g. $0 certs node1 node2 driver)" >&2
  exit 2
fi
command -v openssl >/dev/null || { echo "$0: needs the openssl command (apt-get install openssl)" >&2; exit 1; }
dir=$1
shift
days=${DAYS:-825}
mkdir -p "$dir"
umask 077

if [[ ! -f $dir/ca.pem || ! -f $dir/ca-key.pem ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" -days "$days" -subj "/CN=recflow node-link CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
  chmod 644 "$dir/ca.pem"
  echo "made the CA: $dir/ca.pem (its key $dir/ca-key.pem stays here)"
fi

ext=$(mktemp)
trap 'rm -f "$ext" "$dir"/*.csr' EXIT
printf '%s\n' "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature,keyEncipherment" \
  "extendedKeyUsage=serverAuth,clientAuth" >"$ext"
for name in "$@"; do
  if [[ ! $name =~ ^[A-Za-z0-9._-]+$ ]]; then
    echo "$0: '$name' is not a file name (letters, digits, . _ -)" >&2
    exit 2
  fi
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -keyout "$dir/$name-key.pem" -out "$dir/$name.csr" -subj "/CN=$name" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
    -CAcreateserial -out "$dir/$name.pem" -days "$days" -sha256 -extfile "$ext" 2>/dev/null
  chmod 644 "$dir/$name.pem"
  echo "made $dir/$name.pem and $dir/$name-key.pem"
done
