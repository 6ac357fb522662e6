"""Which BLAS/LAPACK a numpy/scipy peer of the benchmarks runs on, with its threads limited to PEER_THREADS.

Every numpy/scipy peer under test/Benchmarks imports this module (the runners put its folder on PYTHONPATH, see
test/Benchmarks/Core/NumpyPeer.cs) and puts `blas_report()` into the JSON it prints; the runner refuses a run on the
reference BLAS (Debian's numpy without libopenblas0-pthread) and flags a thread count other than its own.
"""
import os

_limits = None


def blas_report():
    global _limits
    import numpy
    try:
        import scipy
        import scipy.linalg  # noqa: F401  (loads LAPACK, so it shows below)
        scipy_version = scipy.__version__
    except ImportError:
        scipy_version = None
    threads = os.environ.get("PEER_THREADS")
    try:
        import threadpoolctl
        if threads:
            _limits = threadpoolctl.threadpool_limits(int(threads))
        keys = ("user_api", "internal_api", "version", "architecture", "threading_layer", "num_threads", "filepath")
        pools = [{k: v for k, v in p.items() if k in keys} for p in threadpoolctl.threadpool_info()]
    except ImportError as e:
        pools = [{"error": "threadpoolctl is not installed (apt-get install python3-threadpoolctl): " + str(e)}]
    # The shared objects actually mapped: libblas.so.3 / liblapack.so.3 resolve through Debian's alternatives to the
    # reference implementation (/usr/lib/x86_64-linux-gnu/blas/...) unless an optimised one is installed.
    libraries = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            name = path.rsplit("/", 1)[-1]
            if name.startswith("lib") and ".so" in name and any(w in name for w in ("blas", "lapack", "mkl", "blis")):
                libraries.add(os.path.realpath(path))
    return {"threadpool": pools, "libraries": sorted(libraries), "requested_threads": int(threads) if threads else None,
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"), "numpy": numpy.__version__, "scipy": scipy_version}


if __name__ == "__main__":
    import json
    print(json.dumps(blas_report()))
