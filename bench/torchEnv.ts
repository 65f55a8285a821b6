// The environment the PyTorch reference runs in (bench/torch_forward.py).

/**
 * OpenBLAS (PyTorch's matmul and linear layers on Debian) runs its own pthreads, one per
 * core, whatever torch.set_num_threads says: pin it, and OpenMP, to the thread count.
 */
export function torchEnv(threads: number): NodeJS.ProcessEnv {
  return { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
}
