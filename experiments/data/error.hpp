// data/error.hpp — the one exception type of the CelebA data layer.
//
// Every failure that comes from the data on disk (a missing file, a malformed
// list row, an undecodable JPEG) is reported as celeba::error, with a message
// that names the file and, for the text lists, the line: a training run that
// stops after an hour must say which of 202,599 files to look at.
#pragma once

#include <stdexcept>
#include <string>

namespace logitloss::experiments::celeba {

class error : public std::runtime_error {
public:
    explicit error(const std::string& what) : std::runtime_error("celeba: " + what) {}
};

}  // namespace logitloss::experiments::celeba
