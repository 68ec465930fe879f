#!/usr/bin/env bash
# Make the DDS Security files for the edge_llm_ros remote link with openssl:
# a CA, an identity certificate and key per host (vehicle, remote), and the
# governance and permissions documents from config/dds/secure/ signed (S/MIME)
# by the CA.
#
#   scripts/dds_security_keys.sh OUT_DIR [--days N] [--vehicle-cn NAME]
#                                [--remote-cn NAME] [--templates DIR]
#
# OUT_DIR gets the SROS2 keystore layout, so it works both with the XML profile
# (edge-llm-ros dds-profile secure ...) and with ROS 2's own switches
# (ROS_SECURITY_KEYSTORE=OUT_DIR ROS_SECURITY_ENCLAVE_OVERRIDE=/vehicle ...):
#
#   private/ca.key.pem           the CA's private key: keep it off the hosts
#   public/ca.cert.pem           the CA (identity CA and permissions CA)
#   enclaves/governance.p7s      signed governance (the same for every host)
#   enclaves/permissions.p7s     signed permissions (one grant per host)
#   enclaves/<host>/             everything one host needs, copy it there:
#       identity_ca.cert.pem permissions_ca.cert.pem cert.pem key.pem
#       governance.p7s permissions.p7s permissions.xml
#
# An existing CA in OUT_DIR is reused (hosts already holding its certificate
# keep trusting the new files); host keys and signed documents are remade.
# Keys are EC prime256v1, signatures SHA-256, as SROS2 makes them.
set -euo pipefail

usage() {
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

script_dir=$(cd "$(dirname "$0")" && pwd)
templates="$script_dir/../config/dds/secure"
days=3650
vehicle_cn=vehicle
remote_cn=remote
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --days) days="$2"; shift 2 ;;
        --vehicle-cn) vehicle_cn="$2"; shift 2 ;;
        --remote-cn) remote_cn="$2"; shift 2 ;;
        --templates) templates="$2"; shift 2 ;;
        -h|--help) usage 0 ;;
        -*) echo "unknown option: $1" >&2; usage ;;
        *) [ -z "$out" ] || usage; out="$1"; shift ;;
    esac
done
[ -n "$out" ] || usage
case "$days" in ''|*[!0-9]*) echo "--days wants a whole number, got '$days'" >&2; exit 2 ;; esac
for name in "$vehicle_cn" "$remote_cn"; do
    case "$name" in
        ''|*[!A-Za-z0-9._-]*) echo "a CN may hold only A-Z a-z 0-9 . _ -, got '$name'" >&2
                               exit 2 ;;
    esac
done
[ "$vehicle_cn" != "$remote_cn" ] || { echo "the two hosts need different CNs" >&2; exit 2; }
for f in governance.xml permissions.xml; do
    [ -f "$templates/$f" ] || { echo "template $templates/$f not found (--templates)" >&2; exit 2; }
done
command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 1; }

mkdir -p "$out/private" "$out/public" "$out/enclaves"
chmod 700 "$out/private"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ca_key="$out/private/ca.key.pem"
ca_cert="$out/public/ca.cert.pem"
if [ -f "$ca_key" ] && [ -f "$ca_cert" ]; then
    echo "reusing the CA in $out"
else
    (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 \
        -out "$ca_key" 2>/dev/null)
    openssl req -new -x509 -sha256 -key "$ca_key" -days "$days" \
        -subj "/CN=edge_llm_ros DDS CA" -out "$ca_cert" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
fi

cat > "$tmp/host.ext" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
EOF

issue() {  # issue HOST_DIR CN
    local dir="$1" cn="$2"
    mkdir -p "$dir"
    (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 \
        -out "$dir/key.pem" 2>/dev/null)
    openssl req -new -sha256 -key "$dir/key.pem" -subj "/CN=$cn" -out "$tmp/$cn.csr"
    openssl x509 -req -sha256 -in "$tmp/$cn.csr" -CA "$ca_cert" -CAkey "$ca_key" \
        -set_serial "0x$(openssl rand -hex 16)" -days "$days" -extfile "$tmp/host.ext" \
        -out "$dir/cert.pem" 2>/dev/null
}

sign() {  # sign IN OUT
    openssl smime -sign -text -in "$1" -out "$2" -signer "$ca_cert" -inkey "$ca_key"
}

not_before=$(date -u +%Y-%m-%dT%H:%M:%S)
not_after=$(date -u -d "+$days days" +%Y-%m-%dT%H:%M:%S)
cp "$templates/governance.xml" "$out/enclaves/governance.xml"
sed -e "s/@VEHICLE_SUBJECT@/CN=$vehicle_cn/" -e "s/@REMOTE_SUBJECT@/CN=$remote_cn/" \
    -e "s/@NOT_BEFORE@/$not_before/" -e "s/@NOT_AFTER@/$not_after/" \
    "$templates/permissions.xml" > "$out/enclaves/permissions.xml"
if grep -q '@[A-Z_]*@' "$out/enclaves/permissions.xml"; then
    echo "unfilled placeholder left in permissions.xml" >&2
    exit 1
fi
sign "$out/enclaves/governance.xml" "$out/enclaves/governance.p7s"
sign "$out/enclaves/permissions.xml" "$out/enclaves/permissions.p7s"

for pair in "vehicle:$vehicle_cn" "remote:$remote_cn"; do
    host="${pair%%:*}"
    cn="${pair#*:}"
    dir="$out/enclaves/$host"
    issue "$dir" "$cn"
    cp "$ca_cert" "$dir/identity_ca.cert.pem"
    cp "$ca_cert" "$dir/permissions_ca.cert.pem"
    cp "$out/enclaves/governance.p7s" "$out/enclaves/permissions.p7s" \
        "$out/enclaves/permissions.xml" "$dir/"
    echo "$host: $dir (subject CN=$cn)"
done
