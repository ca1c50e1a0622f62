//! Filled by the blob helper: InMemoryBlobStore and blob_store_contract.
