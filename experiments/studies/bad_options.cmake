# studies_bad_option: command lines the studies program must refuse before
# running anything, each with exit status 2 and a message naming the
# problem. Values too large for their option are refused, not wrapped.
#
#   cmake -DPROGRAM=<logitloss_experiments> -P bad_options.cmake
if(NOT DEFINED PROGRAM)
    message(FATAL_ERROR "bad_options.cmake needs -DPROGRAM=...")
endif()

set(failures 0)
# check(<regex the message must match> <arguments...>)
function(check expected)
    execute_process(COMMAND "${PROGRAM}" ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err
                    TIMEOUT 20)
    string(REPLACE ";" " " args "${ARGN}")
    if(NOT status STREQUAL "2" OR NOT err MATCHES "${expected}")
        message(SEND_ERROR "'${args}': exit status ${status} (want 2), stderr '${err}' (want a match of '${expected}')")
    else()
        message(STATUS "'${args}': refused: ${err}")
    endif()
endfunction()

check("unknown option '--steps' for curves" curves --steps 3)
check("--steps needs an integer from 1 to 2147483647, got '4294967297'" train --steps 4294967297)
check("--batch needs an integer from 1 to 2147483647, got '3000000000'" lockstep --batch 3000000000)
check("--steps needs an integer from 1 to" lockstep --steps 0)
check("--max-n needs an integer from 1 to 1099511627776, got '9000000000000G'" kernels --max-n 9000000000000G)
check("--max-n needs an integer from 1 to 1099511627776, got '1025G'" kernels --max-n 1025G)
check("--min-n needs an integer from 1 to" kernels --min-n 12x)
check("--min-n [(]4194304[)] is larger than --max-n [(]1048576[)]" kernels --min-n 4M --max-n 1M)
check("--seed needs an integer from 0 to" curves --seed -1)
check("--lr needs a finite number > 0" layers --lr 0)
check("--tolerance needs a finite number > 0, got 'inf'" lockstep --tolerance inf)
check("--steps needs a value" train --steps)
check("--init is raschka, proper or torch [(]default[)], got 'kaiming'" train --init kaiming)
