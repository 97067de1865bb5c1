#!/usr/bin/env bash
# The control-plane CLI (cli.ts) without building the whole project: compiles cli.ts and the
# modules it imports (when one changed) into e2e/.runs/.cli and runs it.
#   e2e/control-plane/cluster.sh run    foreground; Ctrl-C tears everything down
#   e2e/control-plane/cluster.sh up     background; prints `export KUBECONFIG=...` (eval it)
#   e2e/control-plane/cluster.sh down   stops what `up` started (default: e2e/.runs/latest)
# Options: --run-dir DIR, --no-setup (do not run setup.sh first).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT="$ROOT/e2e/.runs/.cli"
JS="$OUT/e2e/control-plane/cli.js"
if [[ ! -f "$JS" ]] || [[ -n $(find "$HERE" -maxdepth 1 -name '*.ts' ! -name '*.test.ts' -newer "$JS" -print -quit) ]]; then
  "$ROOT/node_modules/.bin/tsc" --module nodenext --moduleResolution nodenext --target es2022 \
    --strict --skipLibCheck --types node --rootDir "$ROOT" --outDir "$OUT" "$HERE/cli.ts"
fi
exec node "$JS" "$@"
