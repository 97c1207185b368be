//! OTLP receiver: gRPC and HTTP (protobuf and JSON)
