# The fast-math guard of detail/config.hpp: a translation unit built with
# -ffast-math stops with logitloss's message, and builds when it defines
# LOGITLOSS_ALLOW_FAST_MATH. Arguments: COMPILER, SOURCE, INCLUDES (a ;-list).
execute_process(COMMAND "${COMPILER}" -std=c++17 -ffast-math ${INCLUDES} -fsyntax-only "${SOURCE}"
                RESULT_VARIABLE refused ERROR_VARIABLE refused_log OUTPUT_QUIET)
if(refused EQUAL 0 OR NOT refused_log MATCHES "logitloss: compiled with -ffast-math")
    message(FATAL_ERROR "-ffast-math was not refused with logitloss's message (exit ${refused}):\n${refused_log}")
endif()
execute_process(COMMAND "${COMPILER}" -std=c++17 -ffast-math -DLOGITLOSS_ALLOW_FAST_MATH ${INCLUDES} -fsyntax-only
                        "${SOURCE}"
                RESULT_VARIABLE allowed ERROR_VARIABLE allowed_log OUTPUT_QUIET)
if(NOT allowed EQUAL 0)
    message(FATAL_ERROR "LOGITLOSS_ALLOW_FAST_MATH did not let -ffast-math build (exit ${allowed}):\n${allowed_log}")
endif()
