"""Independent numpy/scipy reference for the NNGP benchmark (test/Benchmarks/Nngp/NngpBenchmark.cs).

Usage: nngp_numpy.py kernel X.bin n d depth sw sb block.bin   -> times the ReLU NNGP recursion and X @ X.T
       nngp_numpy.py solve  X.bin n d reg k Y.bin alpha.bin    -> times scipy cho_factor/cho_solve on
                                                                  K = X X^T/d + (reg + 1e-10)*mean(diag K)*I
Prints one JSON object. Run with OPENBLAS_CORETYPE unset (see /work/.library/env/README.md).
"""
import json, resource, sys, time
import numpy as np
import scipy.linalg


def blas_info():
    try:
        import threadpoolctl
        return [{k: v for k, v in i.items() if k in ("internal_api", "version", "architecture", "num_threads")} for i in threadpoolctl.threadpool_info()]
    except Exception as e:  # pragma: no cover
        return str(e)


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
    out = {"blas": blas_info(), "numpy": np.__version__, "scipy": scipy.__version__}
    if mode == "kernel":
        depth, sw, sb = int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
        theirs_block = np.fromfile(sys.argv[8], dtype=np.float64)
        t = time.perf_counter(); g = x @ x.T; out["gemm_s"] = time.perf_counter() - t
        del g
        t = time.perf_counter(); k = relu_nngp(x, depth, sw, sb); out["kernel_s"] = time.perf_counter() - t
        rows = theirs_block.size // n
        out["max_abs_diff_vs_csharp"] = float(np.max(np.abs(k[:rows] - theirs_block.reshape(rows, n))))
        out["max_abs_kernel"] = float(np.max(np.abs(k)))
    else:
        reg, kcols = float(sys.argv[5]), int(sys.argv[6])
        y = np.fromfile(sys.argv[7], dtype=np.float64).reshape(n, kcols)
        ours = np.fromfile(sys.argv[8], dtype=np.float64).reshape(n, kcols)
        kmat = (x @ x.T) / d
        kmat[np.diag_indices(n)] += (reg + 1e-10) * np.mean(np.diag(kmat))
        t = time.perf_counter()
        c = scipy.linalg.cho_factor(kmat, lower=True, overwrite_a=True, check_finite=False)
        a = scipy.linalg.cho_solve(c, y, check_finite=False)
        out["solve_s"] = time.perf_counter() - t
        out["alpha_rel_diff_vs_csharp"] = float(np.linalg.norm(a - ours) / np.linalg.norm(a))
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
