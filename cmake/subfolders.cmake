# kpid_add_subfolders(): add_subdirectory() for every folder below the calling
# directory that has a CMakeLists.txt, in name order (lib/ and plugins/ grow by folders).
function(kpid_add_subfolders)
    file(GLOB dirs LIST_DIRECTORIES true ${CMAKE_CURRENT_SOURCE_DIR}/*)
    list(SORT dirs)
    foreach(dir IN LISTS dirs)
        if(IS_DIRECTORY ${dir} AND EXISTS ${dir}/CMakeLists.txt)
            add_subdirectory(${dir})
        endif()
    endforeach()
endfunction()
