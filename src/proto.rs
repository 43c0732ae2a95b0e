//! The generated gRPC contract, package `samvirke.v1`.

tonic::include_proto!("samvirke.v1");

/// The encoded file descriptor set of the contract, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("samvirke_descriptor");
