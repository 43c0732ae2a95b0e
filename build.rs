//! Compiles the gRPC contract under `proto/` with a vendored `protoc`, so a fresh machine needs
//! nothing installed by hand, and emits the descriptor set that server reflection serves.

use std::path::PathBuf;

/// The contract, listed explicitly: a proto file added to `proto/` must be added here too.
const PROTOS: &[&str] = &[
    "proto/samvirke/v1/types.proto",
    "proto/samvirke/v1/plans.proto",
    "proto/samvirke/v1/goals.proto",
    "proto/samvirke/v1/coordinators.proto",
    "proto/samvirke/v1/referrals.proto",
    "proto/samvirke/v1/responsibility_group.proto",
    "proto/samvirke/v1/organisations.proto",
    "proto/samvirke/v1/complaints.proto",
    "proto/samvirke/v1/access_events.proto",
    "proto/samvirke/v1/blocks.proto",
    "proto/samvirke/v1/access_scopes.proto",
    "proto/samvirke/v1/child_coordinators.proto",
    "proto/samvirke/v1/plan_changes.proto",
    "proto/samvirke/v1/plan_transfers.proto",
    // googleapis' error details, so that reflection lets a client decode a BadRequest.
    "clients/proto/google/rpc/error_details.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // sqlx::migrate! embeds the migrations at compile time; without this a changed migration
    // would not be picked up until something else changed.
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=proto");

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let well_known = protoc_bin_vendored::include_path()?;

    let protos: Vec<PathBuf> = PROTOS.iter().map(PathBuf::from).collect();
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("samvirke_descriptor.bin"))
        .compile_with_config(
            config,
            &protos,
            &[PathBuf::from("proto"), PathBuf::from("clients/proto"), well_known],
        )?;
    Ok(())
}
