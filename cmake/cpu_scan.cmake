# The fused CPU selective scan's loops (src/models/selective_scan_cpu_kernel.cpp) under OpenMP.
# Included by the top-level CMakeLists.txt after the models library is defined.
#
# at::parallel_for is a header template: with LibTorch's OpenMP backend its parallel region is
# an `omp parallel` pragma compiled into the caller, so in a file built without -fopenmp it runs
# serially. That one file is therefore compiled with -fopenmp (GCC) and linked to the libgomp
# that LibTorch ships and loads anyway: one OpenMP runtime and one thread team per process, the
# same team LibTorch's own kernels use. Without GCC or without that libgomp (clang's -fopenmp
# wants libomp, a second runtime) the file builds without it and the scan runs on one thread.
set(DFER_CPU_SCAN_OPENMP OFF)
file(GLOB _dfer_torch_gomp "${DFER_TORCH_LIBDIR}/libgomp*.so*")
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND _dfer_torch_gomp)
  list(GET _dfer_torch_gomp 0 _dfer_torch_gomp)
  # Out of the precompiled header: it was built without -fopenmp (no _OPENMP), and LibTorch's
  # headers inside it would keep the serial parallel_for.
  set_source_files_properties(${CMAKE_SOURCE_DIR}/src/models/selective_scan_cpu_kernel.cpp
                              PROPERTIES COMPILE_OPTIONS -fopenmp SKIP_PRECOMPILE_HEADERS ON)
  target_link_libraries(dfer_models PUBLIC ${_dfer_torch_gomp})
  set(DFER_CPU_SCAN_OPENMP ON)
endif()
message(STATUS "dfer: fused CPU selective scan parallel (OpenMP): ${DFER_CPU_SCAN_OPENMP}")
