# Sourced by the compare scripts: the environment PyTorch 1.13 and numpy run in as their users would tune them
# (docs/BENCHMARKS.md, ../shared/PEERS.md). Defines torch_env, a command prefix: `"${torch_env[@]}" /usr/bin/python3 …`.
# - OpenBLAS: the machine sets OPENBLAS_CORETYPE=Haswell (AVX2 kernels at half speed); Cooperlake selects AVX-512.
# - OpenMP: PASSIVE waiting, or the idle thread's spinning fights the other core.
# - Allocator: PyTorch frees and re-allocates its activations every step; glibc's malloc hands large blocks back to
#   the kernel (mmap/trim), so each step page-faults them in again. On this VM a fault is expensive: measured
#   2026-12-06, train-torch.py S ran 2,600–3,400 tok/s untuned, 4,400–5,100 with glibc kept from trimming, 4,800–6,200
#   with tcmalloc (PyTorch's CPU tuning guide recommends tcmalloc or jemalloc; Debian's jemalloc, with its default
#   decay, ran at 900–1,200). tcmalloc when installed (apt-get install libgoogle-perftools4), else glibc tuned.
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4
if [ -f "$tcmalloc" ]; then peer_alloc=(LD_PRELOAD="$tcmalloc")
else peer_alloc=(MALLOC_TRIM_THRESHOLD_=100000000000 MALLOC_TOP_PAD_=1000000000 MALLOC_MMAP_THRESHOLD_=33554432)
fi
torch_env=(env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=Cooperlake OMP_WAIT_POLICY=PASSIVE "${peer_alloc[@]}")
