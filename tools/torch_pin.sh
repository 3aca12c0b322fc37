# The one place that names the LibTorch the project builds against (sourced by tools/common.sh):
# PyPI's torch wheel, a CUDA build. Only the wheel and the four CUDA runtime wheels whose libraries
# the CUDA toolkit of the build machines lacks or has too old are installed (no dependencies):
# the toolkit under /usr/local/cuda supplies cudart, cuBLAS, cuDNN and the rest. The versions are
# the ones torch's own metadata requires.
DFER_TORCH_VERSION=2.15.0
DFER_TORCH_WHEELS=(
  "torch==$DFER_TORCH_VERSION"
  "nvidia-cusparselt-cu13==0.8.1"   # libcusparseLt.so.0, needed by libtorch_cuda.so
  "nvidia-nvshmem-cu13==3.7.2"      # libnvshmem_host.so.3, needed by libtorch_nvshmem.so
  "nvidia-cufile==1.17.1.22"        # libcufile.so.0, needed by libtorch_cuda.so
  "nvidia-nccl-cu13==2.30.7"        # the toolkit's NCCL 2.28 lacks symbols libtorch_cuda.so uses
)
# torch's own Python dependencies, for its launcher only: `torchrun` (tools/launch.sh and the
# distributed tests) imports torch, which needs these pure-Python packages (~10 MB); the C++ build
# does not. The versions are the ones pip resolved for torch $DFER_TORCH_VERSION.
DFER_TORCHRUN_WHEELS=(
  "typing_extensions==4.16.0" "filelock==4.3.1" "fsspec==2026.9.0" "jinja2==3.1.6"
  "MarkupSafe==3.0.4" "networkx==3.6.1" "sympy==1.14.0" "mpmath==1.3.0"
)
