# The fused selective-scan CUDA kernel (src/models/cuda/): whether this build compiles it.
# Included by the top-level CMakeLists.txt before the models library; sets DFER_CUDA_SCAN and
# defines dfer_link_scan_kernel(<models target>) for after it.
#
# A CUDA LibTorch always comes with nvcc here: PyPI's torch's own CMake config (Caffe2Config ->
# public/cuda.cmake) finds the CUDA toolkit and enables the CUDA language itself, and stops the
# configure step without them. So every CUDA build compiles the kernel: a small static library
# of plain CUDA (no LibTorch headers), sm_80 (A100) and sm_90 (H100/H200) machine code plus
# compute_75 PTX that any newer GPU's driver compiles, on the shared CUDA runtime that LibTorch's
# config links already (one runtime per process). A CPU LibTorch (or one packaged without that
# requirement, on a machine without nvcc) leaves it out: CUDA tensors then take the chunked
# LibTorch scan, and selective_scan_cuda.cpp is not compiled.
set(DFER_CUDA_ARCHITECTURES "80-real;90-real;75-virtual" CACHE STRING
    "CUDA architectures of the selective-scan kernel")

set(DFER_CUDA_SCAN OFF)
if(DFER_WITH_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    # LibTorch's config appends its own nvcc flags for its extensions (every architecture of its
    # build, compute_50 included, which nvcc 13 rejects): this kernel takes only the user's.
    set(CMAKE_CUDA_FLAGS "$CACHE{CMAKE_CUDA_FLAGS}")
    set(DFER_CUDA_SCAN ON)
  endif()
endif()
if(DFER_CUDA_SCAN)
  message(STATUS "dfer: selective-scan CUDA kernel: built by ${CMAKE_CUDA_COMPILER} "
                 "${CMAKE_CUDA_COMPILER_VERSION} for ${DFER_CUDA_ARCHITECTURES}")
elseif(DFER_WITH_CUDA)
  message(STATUS "dfer: selective-scan CUDA kernel: absent (no CUDA compiler: put nvcc on PATH or "
                 "set CUDACXX); CUDA tensors take the chunked LibTorch scan")
else()
  message(STATUS "dfer: selective-scan CUDA kernel: absent (LibTorch without CUDA); the chunked "
                 "LibTorch scan serves every device")
endif()
if(NOT DFER_CUDA_SCAN)
  set_source_files_properties(${CMAKE_SOURCE_DIR}/src/models/selective_scan_cuda.cpp PROPERTIES
                              HEADER_FILE_ONLY ON)
endif()

# The kernel library into `models`, whose sources then see DFER_CUDA_SCAN=1.
function(dfer_link_scan_kernel models)
  if(NOT DFER_CUDA_SCAN)
    return()
  endif()
  add_library(dfer_scan_kernel STATIC ${CMAKE_SOURCE_DIR}/src/models/cuda/selective_scan_kernel.cu)
  set_target_properties(dfer_scan_kernel PROPERTIES
                        CUDA_ARCHITECTURES "${DFER_CUDA_ARCHITECTURES}" CUDA_STANDARD 17
                        CUDA_STANDARD_REQUIRED ON CUDA_RUNTIME_LIBRARY Shared)
  target_link_libraries(${models} PUBLIC dfer_scan_kernel)
  target_compile_definitions(${models} PRIVATE DFER_CUDA_SCAN=1)
endfunction()
