# shellcheck shell=bash
#
# jwt.sh — mints HS256 JSON Web Tokens with the openssl command line, for
# development tokens. Claims are passed as ready-made compact JSON.

# base64url without padding, from stdin.
chorus_b64url() {
    openssl base64 -A | tr '+/' '-_' | tr -d '='
}

# Prints header.claims.signature for claims_json signed with secret.
# Usage: chorus_jwt_hs256 SECRET CLAIMS_JSON
chorus_jwt_hs256() {
    local secret=$1 claims=$2 header payload sig
    header=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | chorus_b64url)
    payload=$(printf '%s' "$claims" | chorus_b64url)
    sig=$(printf '%s' "$header.$payload" |
        openssl dgst -sha256 -mac HMAC -macopt "key:$secret" -binary | chorus_b64url)
    printf '%s.%s.%s\n' "$header" "$payload" "$sig"
}
