namespace Components.Benchmarks.Svcca;

/// <summary>
/// An independent numpy implementation of the reference SVCCA algorithm (google/svcca: the tutorial's SVD step,
/// here with the 99%-of-variance cut on s², then <c>cca_core.get_cca_similarity</c>'s covariance, rescaling,
/// ε·I, pinv, eigh inverse square root and final SVD), written for this benchmark.
/// </summary>
internal static class SvccaNumpyReference
{
    public const string Script = """
import json, sys, time
import numpy as np
from blas_report import blas_report  # test/Benchmarks/Core, on PYTHONPATH (NumpyPeer.cs)

def svd_reduce(acts, fraction):
    # acts: (neurons, datapoints). Centre each neuron, keep the top directions holding `fraction` of sum(s^2).
    centred = acts - acts.mean(axis=1, keepdims=True)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    energy = np.cumsum(s ** 2) / np.sum(s ** 2)
    k = int(np.searchsorted(energy, fraction) + 1)
    return s[:k, None] * vt[:k], k

def sqrt_psd(m):
    w, v = np.linalg.eigh(m)
    return (v * np.sqrt(w)) @ v.conj().T

def cca(x, y, epsilon):
    nx = x.shape[0]
    cov = np.cov(x, y)
    sxx, sxy, syy = cov[:nx, :nx], cov[:nx, nx:], cov[nx:, nx:]
    xmax, ymax = np.max(np.abs(sxx)), np.max(np.abs(syy))
    sxx = sxx / xmax
    syy = syy / ymax
    sxy = sxy / np.sqrt(xmax * ymax)
    keep_x = np.abs(np.diag(sxx)) >= epsilon
    keep_y = np.abs(np.diag(syy)) >= epsilon
    sxx, syy, sxy = sxx[keep_x][:, keep_x], syy[keep_y][:, keep_y], sxy[keep_x][:, keep_y]
    sxx = sxx + epsilon * np.eye(sxx.shape[0])
    syy = syy + epsilon * np.eye(syy.shape[0])
    ix = sqrt_psd(np.linalg.pinv(sxx))
    iy = sqrt_psd(np.linalg.pinv(syy))
    s = np.linalg.svd(ix @ sxy @ iy, compute_uv=False)
    return np.abs(s)

def main():
    path_a, path_b, n, p, q, fraction, reps, out = sys.argv[1:9]
    n, p, q, reps = int(n), int(p), int(q), int(reps)
    a = np.fromfile(path_a, dtype='<f8').reshape(n, p).T.copy()
    b = np.fromfile(path_b, dtype='<f8').reshape(n, q).T.copy()
    times, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        ra, ka = svd_reduce(a, float(fraction))
        rb, kb = svd_reduce(b, float(fraction))
        rho = cca(ra, rb, 0.0)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    json.dump({'times': times, 'cpu': cpu, 'rho': rho.tolist(), 'ka': ka, 'kb': kb, 'numpy': np.__version__, 'blas': report}, open(out, 'w'))

report = blas_report()  # before any work: it sets the BLAS thread count (PEER_THREADS)
main()
""";
}
