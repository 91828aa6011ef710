//! Golden and unit tests of the converters.
