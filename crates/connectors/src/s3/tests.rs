//! Tests of the S3 sink's factory and task (against object_store's in-memory store; the tests
//! against a real S3 server are in `tests/tests/s3_sink.rs`).
