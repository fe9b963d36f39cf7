# netdiag: socket API recipes as a JSON/HTTP service.
#   docker build -t netdiag .
#   docker run --rm -p 8080:8080 -p 9900:9900 netdiag
# The runtime recipe (packages, user, binary) is proven without Docker by
# deploy/chroot-check.sh, which reads the same deploy/runtime-packages.txt.

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config netbase python3-yaml \
      libmicrohttpd-dev libcjson-dev libuv1-dev libldns-dev nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY include include
COPY src src
COPY openapi openapi
COPY tests tests
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DNETDIAG_BUILD_TESTS=OFF \
 && cmake --build /build -j"$(nproc)" \
 && cmake --install /build --prefix /usr --strip
# Swagger UI for /docs, from npm's swagger-ui-dist (the version the tests pin).
RUN npm install --no-audit --no-fund --prefix /tmp/ui swagger-ui-dist@5.35.0 \
 && mkdir -p /usr/share/netdiag/swagger-ui \
 && cp /tmp/ui/node_modules/swagger-ui-dist/*.js /tmp/ui/node_modules/swagger-ui-dist/*.css \
       /tmp/ui/node_modules/swagger-ui-dist/*.png /usr/share/netdiag/swagger-ui/

FROM debian:bookworm-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="netdiag" \
      org.opencontainers.image.description="Socket API recipes as JSON endpoints: byte order, address conversion, services, host info, DNS, SNTP, socket options, TCP echo" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"
COPY deploy/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $(grep -v '^#' /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && groupadd --system --gid 10001 netdiag \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin netdiag
COPY --from=build /usr/bin/netdiag /usr/bin/netdiag
COPY --from=build /usr/share/netdiag /usr/share/netdiag
# Settings are environment variables (see the README's configuration table).
ENV NETDIAG_LISTEN="*:8080" \
    NETDIAG_ECHO_LISTEN="*:9900" \
    NETDIAG_LOG_FORMAT=json
USER 10001:10001
EXPOSE 8080 9900
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/bin/netdiag", "--healthcheck"]
ENTRYPOINT ["/usr/bin/netdiag"]
