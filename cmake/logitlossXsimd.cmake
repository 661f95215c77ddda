# logitloss_find_xsimd([REQUIRED]) finds xsimd and makes its target usable.
#
# Debian's xsimd 8.1 exports a target whose INTERFACE_LINK_LIBRARIES names
# `xtl`, a library that package does not provide: anything linking xsimd then
# fails with "-lxtl: not found". When no `xtl` target exists, the item is
# removed from the imported target (xsimd itself is header-only and needs
# nothing from xtl unless XSIMD_ENABLE_XTL_COMPLEX is defined).
macro(logitloss_find_xsimd)
    find_package(xsimd CONFIG ${ARGN})
    if(TARGET xsimd AND NOT TARGET xtl)
        get_target_property(_logitloss_xsimd_links xsimd INTERFACE_LINK_LIBRARIES)
        if(_logitloss_xsimd_links)
            list(REMOVE_ITEM _logitloss_xsimd_links xtl)
            set_target_properties(xsimd PROPERTIES INTERFACE_LINK_LIBRARIES "${_logitloss_xsimd_links}")
        endif()
        unset(_logitloss_xsimd_links)
    endif()
endmacro()
