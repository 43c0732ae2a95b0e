//! Integration tests: the real server on an ephemeral port, real SQLite and real PostgreSQL,
//! spoken to with the generated gRPC clients as the apps do. One test binary, one module per
//! concern.

mod common;

mod access_events;
mod access_scopes;
mod authorization_matrix;
mod bad_input;
mod blocks;
mod child_coordinators;
mod cli;
mod complaints;
mod content_bad_input;
mod content_matrix;
mod coordination;
mod coordination_matrix;
mod dpop;
mod fuzz;
mod grpc_web;
mod health;
mod hostile_input;
mod language;
mod members;
mod national_ids;
mod organisations;
mod overload;
mod own_case;
mod plan_changes;
mod plan_content;
mod plan_transfers;
mod plans;
mod readme;
mod relation_matrix;
mod relations;
mod review_findings;
mod tls;
