//! Backend being written; see the registry in mod.rs.
