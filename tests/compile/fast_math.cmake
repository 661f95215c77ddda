# The fast-math guard of detail/config.hpp: a translation unit built with
# -ffast-math, or with one of its parts the compiler names in a macro, stops
# with logitloss's message, and builds when it defines
# LOGITLOSS_ALLOW_FAST_MATH. MSVC's /fp:fast is stood in for by the macro it
# defines (-D_M_FP_FAST). Arguments: COMPILER, COMPILER_ID, SOURCE, INCLUDES
# (a ;-list).
set(flag_sets "-ffast-math" "-ffinite-math-only" "-D_M_FP_FAST")
if(COMPILER_ID STREQUAL "GNU")
    list(APPEND flag_sets "-ffast-math -fno-finite-math-only" "-funsafe-math-optimizations"
         "-fassociative-math -fno-signed-zeros -fno-trapping-math" "-freciprocal-math" "-fno-signed-zeros")
endif()
foreach(flags IN LISTS flag_sets)
    separate_arguments(flag_list UNIX_COMMAND "${flags}")
    # -Wfatal-errors: stop at the #error instead of parsing the rest.
    execute_process(COMMAND "${COMPILER}" -std=c++17 ${flag_list} ${INCLUDES} -fsyntax-only -Wfatal-errors "${SOURCE}"
                    RESULT_VARIABLE refused ERROR_VARIABLE refused_log OUTPUT_QUIET)
    if(refused EQUAL 0 OR NOT refused_log MATCHES "logitloss: compiled with -ffast-math")
        message(FATAL_ERROR "${flags} was not refused with logitloss's message (exit ${refused}):\n${refused_log}")
    endif()
endforeach()
execute_process(COMMAND "${COMPILER}" -std=c++17 -ffast-math -DLOGITLOSS_ALLOW_FAST_MATH ${INCLUDES} -fsyntax-only
                        "${SOURCE}"
                RESULT_VARIABLE allowed ERROR_VARIABLE allowed_log OUTPUT_QUIET)
if(NOT allowed EQUAL 0)
    message(FATAL_ERROR "LOGITLOSS_ALLOW_FAST_MATH did not let -ffast-math build (exit ${allowed}):\n${allowed_log}")
endif()
