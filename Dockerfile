# meshtop's image, as in-cluster load agents run it (`meshtop bench --in-cluster` runs
# `meshtop agent` in a Job's pods; the default --image is ghcr.io/meshtop/meshtop:VERSION).
# Not built by the tests: the project's machine has no container engine.
#
#   docker build -t registry.example/meshtop:dev . && docker push registry.example/meshtop:dev
#   meshtop bench --in-cluster --allow-writes --image registry.example/meshtop:dev ...
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin meshtop

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/meshtop /usr/local/bin/meshtop
# Not root: the agent needs no privilege, only the network.
USER 65532:65532
EXPOSE 9797
ENTRYPOINT ["meshtop"]
CMD ["--help"]
