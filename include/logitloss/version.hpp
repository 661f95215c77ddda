// logitloss/version.hpp — the library version. CMakeLists.txt reads the
// project() version from these lines, so this header is the one place it is
// written.
#pragma once

#define LOGITLOSS_VERSION_MAJOR 0
#define LOGITLOSS_VERSION_MINOR 1
#define LOGITLOSS_VERSION_PATCH 0
#define LOGITLOSS_VERSION_STRING "0.1.0"
