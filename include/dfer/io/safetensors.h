// safetensors: the weight format of the whole suite. Load/save of named tensors in file order on
// top of the validating header parser in safetensors_header.h.
#pragma once

#include <torch/torch.h>

#include "dfer/io/safetensors_header.h"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace dfer::io {

// A named tensor list, in file order (or in the order the writer was given).
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Loads every tensor of a file (CPU, contiguous, owning its memory). Errors name the file.
NamedTensors load_safetensors(const std::string& path,
                              std::map<std::string, std::string>* metadata = nullptr);

// Writes tensors (any supported dtype, any device/layout: they are made contiguous on CPU) with
// optional string metadata, atomically (temp file + fsync + rename). Rejects duplicate names.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Convenience: name -> tensor lookup built from a NamedTensors list (throws on duplicate names).
std::map<std::string, torch::Tensor> to_map(const NamedTensors& tensors);

// Metadata as an ordered list, for callers that must reproduce a file's header byte for byte
// (std::map sorts the keys; the reference fixtures keep their insertion order).
using StMetadataList = std::vector<std::pair<std::string, std::string>>;

// load_safetensors, returning the metadata in file order.
NamedTensors load_safetensors_ordered(const std::string& path, StMetadataList* metadata);

// save_safetensors, writing the metadata in the given order. Loading a file with
// load_safetensors_ordered and saving the result with this reproduces files written in the common
// layout (compact JSON, "__metadata__" first, tensors in offset order, space padding) exactly.
void save_safetensors_ordered(const std::string& path, const NamedTensors& tensors,
                              const StMetadataList& metadata);

// The padded JSON header that save_safetensors_ordered writes for these tensors (only their names,
// dtypes and shapes are used). Throws dfer::Error on unsupported dtypes or non-UTF-8 names.
std::string safetensors_header_json(const NamedTensors& tensors, const StMetadataList& metadata);

}  // namespace dfer::io
