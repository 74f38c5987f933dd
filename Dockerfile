# Multi-stage: build with the full Rust toolchain, run from a small Debian image.
# Build:  docker build -t bittensor .
# Run:    docker run --rm -p 8091:8091 -p 8120:8120 bittensor neuron mnist --axon_port 8091 --metagraph_port 8120

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p bt-cli \
    && strip target/release/bittensor

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home --home-dir /home/bittensor bittensor \
    && mkdir -p /data && chown 10001 /data
COPY --from=build /src/target/release/bittensor /usr/local/bin/bittensor
COPY --from=build /src/data/mnist /usr/share/bittensor/mnist
ENV BT_DATA_DIR=/usr/share/bittensor/mnist
USER 10001
WORKDIR /data
VOLUME ["/data"]
ENTRYPOINT ["bittensor"]
CMD ["neuron", "mnist", "--neuron_key", "/data/neuron.key", "--log_dir", "/data"]
