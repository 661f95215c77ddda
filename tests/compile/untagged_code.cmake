# untagged_code: the public types stay outside LOGITLOSS_ABI_TAG
# (kernels.hpp), so the out-of-line copies of their members that a
# translation unit emits (error's destructors, span's members at -O0) can be
# the ones the linker keeps for every other translation unit. They must
# hold no instruction of the translation unit's instruction set: this
# compiles tests/abi_tagged.cpp (tagged) for x86-64-v4 (AVX-512) at -O0 and
# -O2 and fails on any vector register in a function of logitloss outside
# the tag. Arguments: COMPILER, SOURCE, INCLUDES (a ;-list), OBJDUMP, BINARY.
foreach(v COMPILER SOURCE INCLUDES OBJDUMP BINARY)
    if(NOT DEFINED ${v})
        message(FATAL_ERROR "untagged_code.cmake needs -D${v}=...")
    endif()
endforeach()
file(MAKE_DIRECTORY "${BINARY}")
foreach(opt -O0 -O2)
    set(object "${BINARY}/untagged${opt}.o")
    execute_process(COMMAND "${COMPILER}" -std=c++17 ${opt} -march=x86-64-v4 ${INCLUDES} -c "${SOURCE}" -o "${object}"
                    RESULT_VARIABLE status ERROR_VARIABLE log)
    if(NOT status EQUAL 0)
        message(FATAL_ERROR "compiling ${SOURCE} (${opt}) failed:\n${log}")
    endif()
    execute_process(COMMAND "${OBJDUMP}" -d --no-show-raw-insn "${object}" OUTPUT_FILE "${object}.s"
                    RESULT_VARIABLE status)
    if(NOT status EQUAL 0)
        message(FATAL_ERROR "${OBJDUMP} failed on ${object}")
    endif()
    file(STRINGS "${object}.s" lines)
    set(function "")
    set(outside FALSE)
    set(untagged 0)
    foreach(line IN LISTS lines)
        if(line MATCHES "^[0-9a-f]+ <(.*)>:$")
            # Mangled names: a function of namespace logitloss is
            # _ZN[K]9logitloss..., of the tag _ZN[K]9logitloss13unit_test_tag...
            # (std:: templates of logitloss types, _ZSt..., are the standard
            # library's code, inlined in an optimised build).
            set(function "${CMAKE_MATCH_1}")
            set(outside FALSE)
            if(function MATCHES "^_ZNK?9logitloss" AND NOT function MATCHES "^_ZNK?9logitloss13unit_test_tag")
                set(outside TRUE)
                math(EXPR untagged "${untagged} + 1")
            endif()
        elseif(outside AND line MATCHES "%[xyz]mm")
            message(FATAL_ERROR "${opt}: ${function}, outside the ABI tag, uses a vector register:\n${line}")
        endif()
    endforeach()
    # Not vacuous: error's destructors are emitted at every level.
    if(untagged EQUAL 0)
        message(FATAL_ERROR "${opt}: no function of logitloss outside the tag was emitted; nothing was checked")
    endif()
    message(STATUS "${opt}: ${untagged} functions of logitloss outside the tag, none with a vector register")
endforeach()
