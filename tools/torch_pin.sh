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
