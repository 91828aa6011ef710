//! Unit tests of the transforms (examples; the conformance test compares with Kafka Connect).
