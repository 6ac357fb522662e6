"""Independent numpy/scipy reference for the NNGP benchmark (test/Benchmarks/Nngp/NngpBenchmark.cs).

Usage: nngp_numpy.py kernel X.bin n d depth sw sb block.bin   -> times the ReLU NNGP recursion and X @ X.T
       nngp_numpy.py solve  X.bin n d reg k Y.bin alpha.bin    -> times scipy cho_factor/cho_solve on
                                                                  K = X X^T/d + (reg + 1e-10)*mean(diag K)*I
Prints one JSON object, with the BLAS it ran on (blas_report.py, test/Benchmarks/Core; the runner puts it on
PYTHONPATH and sets the thread count and OpenBLAS kernel, see NumpyPeer.cs).
"""
import json, resource, sys, time
import numpy as np
import scipy.linalg
from blas_report import blas_report


def reset_peak():
    # Resets this process's VmHWM to its current RSS (Linux >= 4.0), as the C# runner does before each case.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_mb(field="VmRSS"):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb():
    # VmHWM of this process's own address space (ru_maxrss would include the parent's peak inherited through fork).
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def relu_nngp(x, depth, sw, sb):
    d = x.shape[1]
    k = (x @ x.T) * (sw / d) + sb
    q = np.diag(k).copy()
    for _ in range(depth):
        s = np.sqrt(np.outer(q, q))
        c = np.clip(k / s, -1.0, 1.0)
        th = np.arccos(c)
        k = (sw / (2 * np.pi)) * s * (np.sin(th) + (np.pi - th) * c) + sb
        q = sw * q / 2 + sb
    return k


def main():
    mode = sys.argv[1]
    n, d = int(sys.argv[3]), int(sys.argv[4])
    x = np.fromfile(sys.argv[2], dtype=np.float64).reshape(n, d)
    out = {"blas": blas_report(), "numpy": np.__version__, "scipy": scipy.__version__}
    if mode == "kernel":
        depth, sw, sb = int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
        theirs_block = np.fromfile(sys.argv[8], dtype=np.float64)
        t = time.perf_counter(); g = x @ x.T; out["gemm_s"] = time.perf_counter() - t
        del g
        t, c0 = time.perf_counter(), time.process_time()
        k = relu_nngp(x, depth, sw, sb)
        out["kernel_s"], out["kernel_cpu_s"] = time.perf_counter() - t, time.process_time() - c0
        rows = theirs_block.size // n
        out["max_abs_diff_vs_csharp"] = float(np.max(np.abs(k[:rows] - theirs_block.reshape(rows, n))))
        out["max_abs_kernel"] = float(np.max(np.abs(k)))
    else:
        reg, kcols = float(sys.argv[5]), int(sys.argv[6])
        y = np.fromfile(sys.argv[7], dtype=np.float64).reshape(n, kcols)
        ours = np.fromfile(sys.argv[8], dtype=np.float64).reshape(n, kcols)
        kmat = x @ x.T
        kmat /= d
        kmat[np.diag_indices(n)] += (reg + 1e-10) * np.mean(np.diag(kmat))
        # The solve's own peak, from the kernel resident (as the C# side measures it) to the end of cho_solve.
        out["rss_before_solve_mb"] = rss_mb()
        out["peak_before_solve_mb"] = rss_mb("VmHWM")  # reading X, forming K = X X^T / d in place
        out["peak_reset"] = reset_peak()
        t, c0 = time.perf_counter(), time.process_time()
        c = scipy.linalg.cho_factor(kmat, lower=True, overwrite_a=True, check_finite=False)
        a = scipy.linalg.cho_solve(c, y, check_finite=False)
        out["solve_s"], out["solve_cpu_s"] = time.perf_counter() - t, time.process_time() - c0
        out["solve_peak_rss_mb"] = rss_mb("VmHWM")
        out["alpha_rel_diff_vs_csharp"] = float(np.linalg.norm(a - ours) / np.linalg.norm(a))
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
