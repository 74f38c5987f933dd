#!/usr/bin/env bash
# Runs one neuron with the seeds' start_bittensor.sh flags, natively (default) or in a container.
#
#   -n, --neuron          which neuron (mnist, echo)               [mnist]
#   -l, --logdir          logging directory                          [./logs]
#   -p, --port            host port published for the axon (container mode)
#   -c, --chain_endpoint  chain endpoint (host:port)
#   -a, --axon_port       axon port                                  [free port]
#   -m, --metagraph_port  metagraph port                             [free port]
#   -s, --metagraph_size  metagraph cache size                       [10000]
#   -b, --bootstrap       metagraph boot peer (host:port, or a bare port = 127.0.0.1:port)
#   -k, --neuron_key      neuron key file      [each neuron its own: neurons/neuron-N/neuron.key]
#   -r, --remote_ip       IP peers use to reach this neuron
#   -mp, --model_path     checkpoint to resume from / write to
#   --docker              run in a container (image: $BITTENSOR_IMAGE, default bittensor:latest)
#   -h, --help            this text
set -euo pipefail

neuron=mnist logdir=./logs port="" chain="" axon="" meta="" size="" boot="" key=""
remote="" model="" docker=0

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
need() { [ $# -ge 2 ] && [ -n "$2" ] || { echo "error: $1 needs a value" >&2; exit 2; }; }

while [ $# -gt 0 ]; do
  case "$1" in
    -n|--neuron) need "$@"; neuron=$2; shift 2 ;;
    -l|--logdir) need "$@"; logdir=$2; shift 2 ;;
    -p|--port) need "$@"; port=$2; shift 2 ;;
    -c|--chain_endpoint) need "$@"; chain=$2; shift 2 ;;
    -a|--axon_port) need "$@"; axon=$2; shift 2 ;;
    -m|--metagraph_port) need "$@"; meta=$2; shift 2 ;;
    -s|--metagraph_size) need "$@"; size=$2; shift 2 ;;
    -b|--bootstrap) need "$@"; boot=$2; shift 2 ;;
    -k|--neuron_key) need "$@"; key=$2; shift 2 ;;
    -r|--remote_ip) need "$@"; remote=$2; shift 2 ;;
    -mp|--model_path) need "$@"; model=$2; shift 2 ;;
    --docker) docker=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown flag $1 (see --help)" >&2; exit 2 ;;
  esac
done

# The seeds let -b take a bare port on the same machine.
if [[ "$boot" =~ ^[0-9]+$ ]]; then
  if [ "$docker" = 1 ]; then boot="host.docker.internal:$boot"; else boot="127.0.0.1:$boot"; fi
fi

log_arg=$logdir; key_arg=$key
# In a container the log directory is mounted at /data and the key lives there too.
if [ "$docker" = 1 ]; then log_arg=/data; key_arg=/data/neuron.key; fi
args=(neuron "$neuron" --log_dir "$log_arg")
# Without -k the binary gives every neuron started here a key of its own (one key, one neuron).
[ -n "$key_arg" ] && args+=(--neuron_key "$key_arg")
[ -n "$chain" ] && args+=(--chain_endpoint "$chain")
[ -n "$axon" ] && args+=(--axon_port "$axon")
[ -n "$meta" ] && args+=(--metagraph_port "$meta")
[ -n "$size" ] && args+=(--metagraph_size "$size")
[ -n "$boot" ] && args+=(--bootstrap "$boot")
[ -n "$remote" ] && args+=(--remote_ip "$remote")
[ -n "$model" ] && args+=(--model_path "$model")

if [ "$docker" = 1 ]; then
  image=${BITTENSOR_IMAGE:-bittensor:latest}
  publish=()
  [ -n "$axon" ] && publish+=(-p "${port:-$axon}:$axon")
  [ -n "$meta" ] && publish+=(-p "$meta:$meta")
  mkdir -p "$logdir"
  exec docker run --rm -it --add-host=host.docker.internal:host-gateway "${publish[@]}" \
    -v "$(cd "$logdir" && pwd):/data" "$image" "${args[@]}"
fi

here=$(cd "$(dirname "$0")/.." && pwd)
if command -v bittensor >/dev/null 2>&1; then
  bin=bittensor
elif [ -x "$here/target/release/bittensor" ]; then
  bin="$here/target/release/bittensor"
else
  echo "building bittensor (cargo build --release)…" >&2
  (cd "$here" && cargo build --release -p bt-cli)
  bin="$here/target/release/bittensor"
fi
mkdir -p "$logdir"
exec "$bin" "${args[@]}"
