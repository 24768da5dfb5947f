# Shared by the benchmark scripts (sourced, not run): free loopback ports and the configuration
# of a server on the embedded store with one warn-level log scope to stdout.

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# listeners_yaml HTTP_PORT GRPC_PORT: the start of a configuration, one warn-level log scope to
# stdout and the HTTP and naming gRPC listeners; more listeners may follow.
listeners_yaml() {
  cat <<YAML
# One log scope to stdout, as the embedded defaults have (each file scope adds a writer thread).
bootstrap:
  logger:
    default: { outputLevel: warn }
apiservers:
  - name: api-http
    option: { listenIP: "127.0.0.1", listenPort: $1 }
  - name: service-grpc
    option: { listenIP: "127.0.0.1", listenPort: $2 }
YAML
}

# server_yaml DIR HTTP_PORT GRPC_PORT CONFIG_PORT: writes DIR/polaris-server.yaml (data in DIR/data).
server_yaml() {
  {
    listeners_yaml "$2" "$3"
    cat <<YAML
  - name: config-grpc
    option: { listenIP: "127.0.0.1", listenPort: $4 }
store:
  name: embedded
  option: { path: "$1/data" }
YAML
  } >"$1/polaris-server.yaml"
}
