"""workbench's benchmark suite: each workload through workbench and through the raw backends
it wraps, in one process, interleaved and repeated. Run ``python -m benchmarks [--quick]``;
the workloads and targets are described in :mod:`benchmarks.__main__`."""
