#!/usr/bin/env bash
# The main job on the embedded default model: zero-shot perplexity on WikiText-2 and PTB (test splits).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$ROOT/nasprune" info
"$ROOT/nasprune" eval --task wikitext2 "$@"
"$ROOT/nasprune" eval --task ptb "$@"
