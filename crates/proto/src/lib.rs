//! Rust code generated from the integ gRPC contract in `proto/`. Nothing here is written by
//! hand: edit the `.proto` files and rebuild.
#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

/// The encoded descriptors of every integ proto file, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("integ_descriptor");

/// `integ.*` packages.
pub mod integ {
    /// `integ.common.v1`: money, provider choice, the error model.
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("integ.common.v1");
        }
    }
    /// `integ.payments.v1`.
    pub mod payments {
        pub mod v1 {
            tonic::include_proto!("integ.payments.v1");
        }
    }
    /// `integ.messaging.v1`.
    pub mod messaging {
        pub mod v1 {
            tonic::include_proto!("integ.messaging.v1");
        }
    }
    /// `integ.identity.v1`.
    pub mod identity {
        pub mod v1 {
            tonic::include_proto!("integ.identity.v1");
        }
    }
    /// `integ.storage.v1`.
    pub mod storage {
        pub mod v1 {
            tonic::include_proto!("integ.storage.v1");
        }
    }
    /// `integ.events.v1`.
    pub mod events {
        pub mod v1 {
            tonic::include_proto!("integ.events.v1");
        }
    }
}

pub use integ::{common, events, identity, messaging, payments, storage};
