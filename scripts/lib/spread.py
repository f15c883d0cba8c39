"""How the benchmark scripts print a ratio: the median of the ratios of interleaved runs,
their lowest and highest beside it ("0.94x (0.85-1.10, 5 runs)"), as BENCHMARKS.md's
Linux rows do (Sources/VirtualLANCLI/BenchSpread.swift)."""
import statistics


def spread(ratios):
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}x (1 run)"
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}, {len(ratios)} runs)"
