"""Support for tests and benchmarks: tiny random models and SAEs built from a config, so that
the real loading code runs without any download. Imports no test framework."""
