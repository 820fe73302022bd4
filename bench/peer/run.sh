#!/usr/bin/env bash
# Keygate vs oidc-provider, side by side, with the same load generator.
#
#   bash bench/peer/run.sh                  # 5000 requests per workload, concurrency 32
#   bash bench/peer/run.sh --duration 10    # extra arguments go to both runs
#   CONCURRENCY=4 bash bench/peer/run.sh
#   KEYGATE_ALG=ES256 bash bench/peer/run.sh   # Keygate's clients sign ES256, the peer stays RS256
#
# Installs oidc-provider from npm into bench/peer/.scratch (git-ignored),
# starts it on 127.0.0.1 with bench/peer/provider.mjs (RS256 key, equivalent
# clients, a minimal sign-in form), runs keygate-bench against Keygate (which
# the tool starts itself on a fresh SQLite database) and then against the
# peer (W1-W4), and prints both results with the ratio Keygate/peer.
# Results: bench/peer/.scratch/results/{keygate,peer}.json.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SCRATCH="${PEER_SCRATCH:-$HERE/.scratch}"
OIDC_PROVIDER_VERSION="${OIDC_PROVIDER_VERSION:-9}"
CONCURRENCY="${CONCURRENCY:-32}"
KEYGATE_ALG="${KEYGATE_ALG:-RS256}"
RESULTS="$SCRATCH/results"
BENCH="$ROOT/target/release/keygate-bench"
KEYGATE="${KEYGATE_BIN:-$ROOT/target/release/keygate}"

command -v node >/dev/null || { echo "run.sh: node is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "run.sh: npm is required" >&2; exit 1; }
command -v curl >/dev/null || { echo "run.sh: curl is required" >&2; exit 1; }

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$ROOT" && cargo build --release -p keygate -p keygate-bench)
fi
[[ -x "$BENCH" && -x "$KEYGATE" ]] || { echo "run.sh: build target/release/keygate and keygate-bench first" >&2; exit 1; }

# --- oidc-provider into the scratch folder ---
mkdir -p "$SCRATCH" "$RESULTS"
installed="$(node -p "try{require('$SCRATCH/node_modules/oidc-provider/package.json').version}catch{''}" 2>/dev/null || true)"
if [[ "${installed%%.*}" != "${OIDC_PROVIDER_VERSION%%.*}" ]]; then
  echo "installing oidc-provider@$OIDC_PROVIDER_VERSION into $SCRATCH" >&2
  (cd "$SCRATCH" && { [[ -f package.json ]] || echo '{"private":true,"type":"module"}' > package.json; } \
    && npm install --no-audit --no-fund --loglevel=error "oidc-provider@$OIDC_PROVIDER_VERSION" >&2)
  installed="$(node -p "require('$SCRATCH/node_modules/oidc-provider/package.json').version")"
fi
cp "$HERE/provider.mjs" "$SCRATCH/provider.mjs"

# --- Keygate (the tool starts and stops it) ---
echo "== Keygate" >&2
"$BENCH" --server "$KEYGATE" --concurrency "$CONCURRENCY" --alg "$KEYGATE_ALG" \
  --label "keygate" --json "$RESULTS/keygate.json" "$@"

# --- the peer ---
# The random values are base64url and may begin with "-": they are passed
# as --flag=value so that the argument parser cannot take them for flags.
PORT="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
SECRET_CONF="$(node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))")"
SECRET_CC="$(node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))")"
PASSWORD="$(node -e "console.log(require('crypto').randomBytes(18).toString('base64url'))")"
EMAIL="bench@example.com"
REDIRECT="http://127.0.0.1:9/callback"

echo "== oidc-provider $installed (node $(node --version)) on 127.0.0.1:$PORT" >&2
PEER_PORT="$PORT" PEER_REDIRECT_URI="$REDIRECT" PEER_CONFIDENTIAL_SECRET="$SECRET_CONF" \
  PEER_CC_SECRET="$SECRET_CC" PEER_USER_EMAIL="$EMAIL" PEER_USER_PASSWORD="$PASSWORD" \
  NODE_ENV=production node "$SCRATCH/provider.mjs" >"$RESULTS/peer.log" 2>&1 &
NODE_PID=$!
cleanup() { kill "$NODE_PID" 2>/dev/null || true; wait "$NODE_PID" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

for _ in $(seq 1 200); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/.well-known/openid-configuration" 2>/dev/null && break
  kill -0 "$NODE_PID" 2>/dev/null || { echo "run.sh: oidc-provider exited:" >&2; cat "$RESULTS/peer.log" >&2; exit 1; }
  sleep 0.1
done

"$BENCH" --issuer "http://127.0.0.1:$PORT" --server-pid "$NODE_PID" --concurrency "$CONCURRENCY" \
  --public-client-id bench-public \
  --confidential-client-id bench-confidential --confidential-client-secret="$SECRET_CONF" \
  --cc-client-id bench-cc --cc-client-secret="$SECRET_CC" \
  --user-email "$EMAIL" --user-password="$PASSWORD" --redirect-uri "$REDIRECT" \
  --authorize-param prompt=consent --jwt-access-tokens \
  --label "oidc-provider $installed" --json "$RESULTS/peer.json" "$@"

cleanup
trap - EXIT INT TERM

echo
echo "== Keygate ($KEYGATE_ALG) vs oidc-provider $installed (RS256)"
"$BENCH" --compare "$RESULTS/keygate.json" "$RESULTS/peer.json"
