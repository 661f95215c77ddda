// doctest for the tests that use LibTorch (test_torch here, the
// experiments' test_torch_ops and test_vgg16), included after it: LibTorch's
// logging (glog in Debian's build, c10's own in others) defines CHECK and
// CHECK_EQ ... CHECK_GE, which would replace doctest's assertions of the
// same names with ones that abort the process. A test program defines
// DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN (or not) before including this.
#pragma once

#include <torch/torch.h>

#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE
#include <doctest/doctest.h>
